//! Phone numbers, validated with the numbering-plan metadata of the `phonenumber` crate: international
//! numbers (`+`, `00`), US/NANP numbers, Indian mobiles, and the national formats of the covered plans
//! (`PLANS`).
//!
//! A national number is reported without a context word only when its written form is unambiguous:
//! - a trunk `0`, digits in groups the way people write phone numbers (an area code of 2-6 digits with
//!   its `0`, then one subscriber group or several groups of two or more digits, one kind of
//!   separator), and valid in one of the covered plans: `030 12345678`, `01 23 45 67 89`,
//!   `020 7946 0958`, `06-12345678`, `098765 43210`;
//! - without a trunk prefix, only the grouping a plan is known by: Spanish `612 34 56 78`, Italian
//!   mobiles `347 123 4567`, Brazilian `(11) 91234-5678`;
//! - a bare run of digits only when it is a mobile number with its trunk `0` (`09876543210`).
//!
//! Everything else valid in a covered plan (groupings that also read as thousands such as
//! `699 956 915`, bare runs, numbers without a trunk prefix in another shape) needs a context word.
//! Dates, times, versions, addresses and the tails of IBANs are never phone numbers.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;
use phonenumber::Type;

use crate::detectors::{digits, has_context, has_context_before, Candidate};

const PHONE_LABELS: &[&str] = &[
    "phone:",
    "phone\n",
    "tel:",
    "mobile:",
    "cell:",
    "fax:",
    "phone number:",
    "contact number:",
];

/// Words before a phone number, matched at the start of a word (`calling` counts); words that begin
/// other words are spelled out (`tel:` but not `tell`, `text ` but not `textbook`).
const PHONE_CONTEXT: &[&str] = &[
    "phone",
    "call",
    "mobile",
    "cell ",
    "cell:",
    "cellphone",
    "cellular",
    "tel ",
    "tel:",
    "tel.",
    "tel#",
    "telephone",
    "telefon",
    "teléfono",
    "téléphone",
    "contact",
    "whatsapp",
    "sms",
    "text ",
    "text:",
    "texts",
    "texted",
    "texting",
    "dial ",
    "dialed",
    "dialled",
    "dialing",
    "dialling",
    "reach",
    "fax",
    "ring ",
    "ringing",
    "message",
    "msg",
    "landline",
    "hotline",
    "helpline",
    "my number",
    "handy",
    "portable",
    "móvil",
    "movil",
    "cellulare",
];

/// Words naming another kind of number right before it (an order, a book, an account): without a
/// phone context word, such a number is not taken for a phone number.
const NOT_PHONE_CONTEXT: &[&str] = &[
    "isbn",
    "issn",
    "order",
    "invoice",
    "sku",
    "serial",
    "tracking",
    "iban",
    "account no",
    "account number",
    "acct",
    "ref.",
    "ref:",
    "ref #",
    "ref no",
    "reference",
    "po #",
    "po#",
];

/// How far before a number `NOT_PHONE_CONTEXT` is looked for, in bytes.
const NOT_PHONE_REACH: usize = 16;

/// National numbering plans whose written national forms are recognised, in the order they are
/// tried (a number valid in an earlier plan is not looked up in later ones).
const PLANS: &[Id] = &[
    Id::DE,
    Id::GB,
    Id::FR,
    Id::IT,
    Id::ES,
    Id::NL,
    Id::BE,
    Id::CH,
    Id::AT,
    Id::IN,
    Id::BR,
    Id::AU,
    Id::IE,
    Id::SE,
    Id::ZA,
    Id::JP,
    Id::PT,
];

/// A covered plan, read from the metadata once.
struct Plan {
    region: Id,
    code: u16,
    /// Written nationally with a trunk `0` before the national significant number.
    trunk: bool,
    /// Digit counts of subscriber (fixed-line and mobile) national significant numbers.
    lengths: Vec<usize>,
}

/// Regex patterns of the metadata are compiled on use and kept in one LRU cache for all regions;
/// the covered plans plus the international numbers need more than its default 100 entries, or
/// every lookup recompiles.
const PHONE_REGEX_CACHE: usize = 512;

static PLAN_TABLE: LazyLock<Vec<Plan>> = LazyLock::new(|| {
    if let Ok(mut cache) = DATABASE.cache().lock() {
        if cache.capacity() < PHONE_REGEX_CACHE {
            cache.set_capacity(PHONE_REGEX_CACHE);
        }
    }
    PLANS
        .iter()
        .filter_map(|region| {
            let meta = DATABASE.by_id(region.as_ref())?;
            let trunk = meta.national_prefix() == Some("0");
            let descriptors = meta.descriptors();
            let mut lengths: Vec<usize> = [descriptors.fixed_line(), descriptors.mobile()]
                .into_iter()
                .flatten()
                .flat_map(|d| d.possible_length().iter())
                .map(|n| usize::from(*n))
                .collect();
            lengths.sort_unstable();
            lengths.dedup();
            Some(Plan {
                region: *region,
                code: meta.country_code(),
                trunk,
                lengths,
            })
        })
        .collect()
});

/// Loads the numbering-plan metadata (over a hundred milliseconds, otherwise paid by the first
/// text that holds a phone number). Each plan's patterns are still compiled on the first number of
/// that plan (a few milliseconds and about a megabyte each): compiling every covered plan's at
/// start would add some 20 MB to every service, most of it for plans its traffic may never use.
pub(crate) fn warm_up() {
    LazyLock::force(&PLAN_TABLE);
}

/// The metadata's example fixed-line and mobile numbers of every covered plan (and of the North
/// American one) that validate, written nationally.
#[cfg(test)]
fn example_numbers() -> Vec<(Id, String)> {
    let mut valid = Vec::new();
    for region in PLANS.iter().chain([&Id::US]) {
        let Some(meta) = DATABASE.by_id(region.as_ref()) else {
            continue;
        };
        let descriptors = meta.descriptors();
        let examples = [descriptors.fixed_line(), descriptors.mobile()]
            .into_iter()
            .flatten()
            .filter_map(|descriptor| descriptor.example());
        for example in examples {
            let national = match meta.national_prefix() {
                Some(trunk) if region != &Id::US => format!("{trunk}{example}"),
                _ => example.to_owned(),
            };
            if phonenumber::parse(Some(*region), &national)
                .is_ok_and(|number| phonenumber::is_valid(&number))
            {
                valid.push((*region, national));
            }
        }
    }
    valid
}

fn valid_phone_in(text: &str, region: Option<Id>) -> Option<phonenumber::PhoneNumber> {
    remembered(Lookup::Text, region, text, || {
        // Widens the metadata's regex cache before the first lookup (see `PLAN_TABLE`).
        LazyLock::force(&PLAN_TABLE);
        let parsed = phonenumber::parse(region, text).ok()?;
        phonenumber::is_valid(&parsed).then_some(parsed)
    })
}

/// `national` (digits only, as written nationally, with or without the trunk `0`) is a valid number
/// of `plan`.
fn valid_national(plan: &Plan, national: &str) -> Option<phonenumber::PhoneNumber> {
    let significant = if plan.trunk && national.starts_with('0') {
        national.len() - 1
    } else {
        national.len()
    };
    if !plan.lengths.contains(&significant) {
        return None;
    }
    remembered(Lookup::National, Some(plan.region), national, || {
        let parsed = phonenumber::parse(Some(plan.region), national).ok()?;
        (parsed.code().value() == plan.code && phonenumber::is_valid(&parsed)).then_some(parsed)
    })
}

/// Which question a remembered answer is for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Lookup {
    Text,
    National,
}

type Remembered = HashMap<(Lookup, Option<Id>, Box<str>), Option<phonenumber::PhoneNumber>>;

/// Answers remembered per thread, at most this many (then forgotten all at once).
const REMEMBERED: usize = 1024;

thread_local! {
    /// Numbering-plan answers by input. The parse is the costly part of this detector (tens of
    /// microseconds per candidate, behind one lock for all threads), and the same numbers come
    /// back: a system prompt's contact numbers are in every request, a text repeats its own.
    static ANSWERS: RefCell<Remembered> = RefCell::new(HashMap::new());
}

fn remembered(
    lookup: Lookup,
    region: Option<Id>,
    text: &str,
    answer: impl FnOnce() -> Option<phonenumber::PhoneNumber>,
) -> Option<phonenumber::PhoneNumber> {
    let key = (lookup, region, Box::<str>::from(text));
    if let Some(known) = ANSWERS.with(|answers| answers.borrow().get(&key).cloned()) {
        return known;
    }
    let fresh = answer();
    ANSWERS.with(|answers| {
        let mut answers = answers.borrow_mut();
        if answers.len() >= REMEMBERED {
            answers.clear();
        }
        answers.insert(key, fresh.clone());
    });
    fresh
}

fn plan(region: Id) -> Option<&'static Plan> {
    PLAN_TABLE.iter().find(|p| p.region == region)
}

/// A phone number valid under the numbering plan's metadata (see the module documentation).
pub(crate) fn phone(candidate: &Candidate<'_>) -> bool {
    let text = candidate.as_str().trim_end_matches(['(', ' ', '-', '.']);
    let before = candidate.before(1);
    let after = candidate.after(2);
    // Glued to a word, a path or another number (`10:22` after a date is a time, `1.234,56` an
    // amount): not a standalone phone number.
    if before.chars().last().is_some_and(|c| {
        c.is_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | '#' | '$' | '€' | '£' | '₹')
    }) || after.starts_with(|c: char| c.is_alphanumeric() || c == '%')
        || (after.starts_with(['.', '-', '/', ':', ','])
            && after[1..].starts_with(|c: char| c.is_ascii_digit()))
        || (after.starts_with('-') && after[1..].starts_with(|c: char| c.is_alphanumeric()))
    {
        return false;
    }
    let d = digits(text);
    if !(7..=15).contains(&d.len()) {
        return false;
    }
    // Dates and timestamps, addresses and versions are not phone numbers; nor is the tail of an IBAN.
    if looks_like_date(text)
        || starts_with_date(text)
        || looks_like_dotted_quad(text)
        || (!text.starts_with('+') && follows_iban_head(candidate))
    {
        return false;
    }
    let bare = text.bytes().all(|b| b.is_ascii_digit());
    let context = has_context_before(candidate, 48, PHONE_CONTEXT);
    if bare && !context {
        return !has_context_before(candidate, NOT_PHONE_REACH, NOT_PHONE_CONTEXT)
            && bare_trunk_mobile(&d);
    }
    // Right after a "Phone:" label, or labelled "office"/"fax"/"mobile" right after: any grouping of
    // 7-15 digits is a phone number in some national format.
    let labelled = has_context_before(candidate, 12, PHONE_LABELS)
        || has_context(
            candidate.after(10),
            &["office", "fax", "mobile", "home", "cell", "work"],
        );
    if labelled && !bare {
        return true;
    }
    if text.starts_with('+') {
        let cleaned = text.replacen("(0)", "", 1);
        let Some(parsed) = valid_phone_in(&cleaned, None) else {
            return false;
        };
        // India: only mobiles (6-9 after the country code) are reported; landlines and service numbers
        // with a +91 prefix are too often placeholders.
        if parsed.code().value() == 91 {
            return d.len() == 12 && d.get(2).is_some_and(|first| (6..=9).contains(first));
        }
        return true;
    }
    if let Some(international) = text.strip_prefix("00") {
        return valid_phone_in(&format!("+{international}"), None).is_some();
    }
    // A sane grouping first: `6.4.13778.232` is a version, `0-423-22520-0` an ISBN.
    let grouped = bare || grouping(text).is_some() || br_nine_apart(text);
    // The digit count first: parsing against the numbering plan is the expensive part.
    let us = d.len() == 10
        && grouped
        && !text.contains('/')
        && valid_phone_in(text, Some(Id::US)).is_some();
    let indian_mobile = grouped && !text.contains('/') && {
        let national: &[u8] = match d.len() {
            10 => &d,
            11 if d[0] == 0 => &d[1..],
            _ => &[],
        };
        national.len() == 10 && (6..=9).contains(&national[0])
    };
    if us || indian_mobile {
        return true;
    }
    if !grouped || (!context && has_context_before(candidate, NOT_PHONE_REACH, NOT_PHONE_CONTEXT)) {
        return false;
    }
    if context {
        national_with_context(&d)
    } else {
        unambiguous_national(text, &d)
    }
}

fn as_text(d: &[u8]) -> String {
    d.iter().map(|digit| char::from(b'0' + digit)).collect()
}

/// A bare run of digits with a single trunk `0` that is a mobile number of a covered plan.
fn bare_trunk_mobile(d: &[u8]) -> bool {
    if !(10..=12).contains(&d.len()) || d[0] != 0 || d[1] == 0 {
        return false;
    }
    let national = as_text(d);
    PLAN_TABLE.iter().filter(|p| p.trunk).any(|p| {
        valid_national(p, &national).is_some_and(|parsed| {
            matches!(
                parsed.number_type(&DATABASE),
                Type::Mobile | Type::FixedLineOrMobile
            )
        })
    })
}

/// After a context word: any number valid in a covered plan, written with its trunk `0`, or for the
/// plans dialled without one, in their full national length (Italian numbers without `0` only as
/// mobiles).
fn national_with_context(d: &[u8]) -> bool {
    let national = as_text(d);
    if d[0] == 0 {
        return d[1] != 0
            && PLAN_TABLE
                .iter()
                .filter(|p| p.trunk || p.region == Id::IT)
                .any(|p| valid_national(p, &national).is_some());
    }
    let candidates: &[Id] = if d[0] == 3 {
        &[Id::IT, Id::BR]
    } else {
        &[Id::ES, Id::PT, Id::BR]
    };
    candidates
        .iter()
        .filter_map(|region| plan(*region))
        .any(|p| valid_national(p, &national).is_some())
}

/// How a number is written: its digit groups and the separators between them.
struct Grouping {
    /// Digits per group; a lone leading `0` (`0 98765 43210`) is counted with the next group.
    groups: Vec<usize>,
    /// The separator after the first group (`" "`, `"-"`, `"/"`, `")"`, `") "`, `"."`).
    first_separator: String,
    /// The separators between the later groups, all alike.
    separator: Option<String>,
    parenthesised: bool,
}

/// The grouping of `text`, or `None` when it is not written like a phone number: separators of one
/// kind (a different one after the area code is fine), dots only throughout, parentheses only around
/// the first group, a slash only after it, and no single-digit group.
fn grouping(text: &str) -> Option<Grouping> {
    let parenthesised = text.starts_with('(');
    let body = text.strip_prefix('(').unwrap_or(text);
    let mut groups: Vec<usize> = Vec::new();
    let mut separators: Vec<&str> = Vec::new();
    let bytes = body.as_bytes();
    let mut idx = 0;
    while idx < bytes.len() {
        let start = idx;
        if bytes[idx].is_ascii_digit() {
            while idx < bytes.len() && bytes[idx].is_ascii_digit() {
                idx += 1;
            }
            groups.push(idx - start);
        } else {
            while idx < bytes.len() && !bytes[idx].is_ascii_digit() {
                idx += 1;
            }
            separators.push(&body[start..idx]);
        }
    }
    if groups.len() < 2 || separators.len() + 1 != groups.len() {
        return None;
    }
    let allowed_first: &[&str] = if parenthesised {
        &[")", ") "]
    } else {
        &[" ", "-", ".", "/"]
    };
    if !allowed_first.contains(&separators[0]) {
        return None;
    }
    let rest = &separators[1..];
    if rest.iter().any(|s| !matches!(*s, " " | "-" | ".")) || rest.windows(2).any(|w| w[0] != w[1])
    {
        return None;
    }
    // Dots throughout, or after an area code and its slash (`0470/12.34.56`).
    let dots = separators.iter().filter(|s| **s == ".").count();
    if dots > 0 && dots != separators.len() && !(separators[0] == "/" && dots == rest.len()) {
        return None;
    }
    let mut first_separator = separators[0].to_owned();
    let mut separator = rest.first().map(|s| (*s).to_owned());
    // `0 98765 43210`: the trunk written apart from the area code.
    if groups[0] == 1 && !parenthesised && body.starts_with('0') && groups.len() >= 3 {
        groups[1] += 1;
        groups.remove(0);
        first_separator = separator.clone().unwrap_or_default();
        separator = rest.get(1).map(|s| (*s).to_owned());
    }
    if groups.iter().any(|g| *g < 2) {
        return None;
    }
    Some(Grouping {
        groups,
        first_separator,
        separator,
        parenthesised,
    })
}

/// Day, month and year in some order (`15 03 2024`, `2024 03 15`).
fn date_groups(groups: &[usize], d: &[u8]) -> bool {
    let value = |from: usize, len: usize| crate::detectors::number(&d[from..from + len]);
    match groups {
        [a @ 1..=2, b @ 1..=2, 4] => {
            let (x, y, year) = (value(0, *a), value(*a, *b), value(a + b, 4));
            (1900..=2099).contains(&year) && (1..=31).contains(&x) && (1..=31).contains(&y)
        }
        [4, b @ 1..=2, c @ 1..=2] => {
            let (year, month, day) = (value(0, 4), value(4, *b), value(4 + b, *c));
            (1900..=2099).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
        }
        _ => false,
    }
}

/// A Brazilian mobile with its leading 9 set apart: `(11) 9 1234-5678`.
fn br_nine_apart(text: &str) -> bool {
    static BR_NINE_APART: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"^\([1-9]{2}\) ?9 \d{4}-\d{4}$").expect("static regex")
    });
    BR_NINE_APART.is_match(text)
}

/// A month and a year before more digits (`03/2024 1234`).
fn month_and_year(grouping: &Grouping, d: &[u8]) -> bool {
    let groups = &grouping.groups;
    grouping.first_separator == "/"
        && groups[0] == 2
        && groups.get(1) == Some(&4)
        && (1..=12).contains(&crate::detectors::number(&d[..2]))
        && (1900..=2099).contains(&crate::detectors::number(&d[2..6]))
}

/// Two four-digit times of day (`0800-1700`): opening hours, not a phone number.
fn time_range(groups: &[usize], d: &[u8]) -> bool {
    let hhmm = |from: usize| {
        crate::detectors::number(&d[from..from + 2]) <= 23
            && crate::detectors::number(&d[from + 2..from + 4]) <= 59
    };
    groups == [4, 4] && hhmm(0) && hhmm(4)
}

/// A national number whose written form is unambiguous without a context word (module documentation).
fn unambiguous_national(text: &str, d: &[u8]) -> bool {
    let national = as_text(d);
    if br_nine_apart(text) {
        return plan(Id::BR).is_some_and(|p| valid_national(p, &national).is_some());
    }
    let Some(grouping) = grouping(text) else {
        return false;
    };
    let groups = &grouping.groups[..];
    if date_groups(groups, d) || time_range(groups, d) || month_and_year(&grouping, d) {
        return false;
    }
    if d[0] == 0 {
        let area = groups[0];
        // Pairs throughout (`01 23 45 67 89`) are the French-style ten-digit form only.
        let pairs = groups.iter().all(|g| *g == 2);
        let trunk_shape = d[1] != 0
            && (2..=6).contains(&area)
            && (9..=13).contains(&d.len())
            && groups.len() <= 6
            && (!pairs || d.len() == 10);
        return trunk_shape
            && PLAN_TABLE
                .iter()
                .filter(|p| p.trunk || p.region == Id::IT)
                .any(|p| valid_national(p, &national).is_some());
    }
    let plain = !grouping.parenthesised && grouping.first_separator != "/";
    let same_separator = grouping
        .separator
        .as_ref()
        .is_none_or(|s| *s == grouping.first_separator);
    let region = match groups {
        // Spain: 9 digits from 6-9, as 612 34 56 78 or 91 123 45 67.
        [3, 2, 2, 2] | [2, 3, 2, 2] if plain && same_separator && (6..=9).contains(&d[0]) => Id::ES,
        // Italian mobiles: 347 123 4567, 347 1234567.
        [3, 3, 4] | [3, 7] | [3, 4, 3] if plain && same_separator && d[0] == 3 => Id::IT,
        // Brazil: (11) 91234-5678, (11) 2345-6789, 11 91234-5678.
        [2, 4 | 5, 4]
            if grouping.separator.as_deref() == Some("-")
                && (grouping.parenthesised || (groups[1] == 5 && d[2] == 9)) =>
        {
            Id::BR
        }
        _ => return false,
    };
    plan(region).is_some_and(|p| valid_national(p, &national).is_some())
}

fn looks_like_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split(['/', '.', '-']).collect();
    let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && (matches!(lens[..], [1..=2, 1..=2, 2 | 4] | [4, 1..=2, 1..=2]))
}

/// A date at the start, followed by a time: `2024-03-15 10` of a timestamp, `15.03.2024 10`.
fn starts_with_date(text: &str) -> bool {
    static DATE_FIRST: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"^(?:(?:19|20)\d{2}[-./](\d{1,2})[-./](\d{1,2})|(\d{1,2})[-./](\d{1,2})[-./](?:\d{4}|\d{2}))[ T]",
        )
        .expect("static regex")
    });
    let Some(found) = DATE_FIRST.captures(text) else {
        return false;
    };
    let value = |idx: usize| {
        found
            .get(idx)
            .and_then(|m| m.as_str().parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (a, b) = if found.get(1).is_some() {
        (value(1), value(2))
    } else {
        (value(3), value(4))
    };
    // Day and month in either order.
    (1..=31).contains(&a) && (1..=31).contains(&b) && (a <= 12 || b <= 12)
}

/// Four dot-separated groups of 1-3 digits: an IPv4 address or a version, not a phone number.
fn looks_like_dotted_quad(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The candidate continues an IBAN written in groups (`nl91 abna 0417 1643 00`, any case).
fn follows_iban_head(candidate: &Candidate<'_>) -> bool {
    static IBAN_HEAD: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?:^|[^A-Za-z0-9])[A-Za-z]{2}\d{2}[ -](?:[A-Za-z0-9]{4}[ -])*$")
            .expect("static regex")
    });
    IBAN_HEAD.is_match(candidate.before(40))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_numbers_of_every_covered_plan_validate_and_are_reported() {
        let valid = example_numbers();
        for region in PLANS.iter().chain([&Id::US]) {
            assert!(
                valid.iter().any(|(r, _)| r == region),
                "no example number of {region:?} validated"
            );
        }
        let engine = crate::Engine::compile(&crate::system_policies(), Default::default())
            .expect("system policies compile");
        for (region, number) in &valid {
            let text = format!("Please call me, my phone number: {number}");
            let found = engine
                .evaluate(&text)
                .matches
                .iter()
                .any(|m| &*m.policy_id == "sys_pii_phone");
            assert!(found, "{region:?} {number}: not reported in {text:?}");
        }
    }

    #[test]
    fn remembered_answers_are_the_answers_and_stay_bounded() {
        let inputs = [
            ("+1 415 555 2671", None),
            ("+44 20 7946 0958", None),
            ("+1 000 000 0000", None),
            ("not a number", None),
            ("415 555 2671", Some(Id::US)),
            ("123", Some(Id::US)),
        ];
        let fresh = |text: &str, region: Option<Id>| {
            phonenumber::parse(region, text)
                .ok()
                .filter(phonenumber::is_valid)
        };
        for _ in 0..3 {
            for (text, region) in inputs {
                assert_eq!(valid_phone_in(text, region), fresh(text, region), "{text}");
            }
        }
        assert!(valid_phone_in("+1 415 555 2671", None).is_some());
        assert!(valid_phone_in("+1 000 000 0000", None).is_none());
        for n in 0..3 * REMEMBERED {
            let _ = valid_phone_in(&format!("+1 415 555 {:04}", n % 10_000), None);
            assert!(ANSWERS.with(|answers| answers.borrow().len()) <= REMEMBERED);
        }
        // National lookups are remembered apart from whole-text ones of the same region.
        let gb = plan(Id::GB).expect("covered");
        assert!(valid_national(gb, "02079460958").is_some());
        for _ in 0..2 {
            for national in ["02079460958", "01000000000", "07700900123", "09999999999"] {
                let expected = phonenumber::parse(Some(Id::GB), national)
                    .ok()
                    .filter(|p| p.code().value() == gb.code && phonenumber::is_valid(p));
                assert_eq!(valid_national(gb, national), expected, "{national}");
            }
        }
    }

    fn check(text: &str) -> bool {
        let start = text.find('«').expect("marked start");
        let end = text.find('»').expect("marked end");
        let plain = text.replace(['«', '»'], "");
        let candidate = Candidate {
            text: &plain,
            start,
            end: end - '«'.len_utf8(),
        };
        phone(&candidate)
    }

    #[test]
    fn national_forms_with_a_trunk_zero_need_no_context_word() {
        for text in [
            "«030 12345678»",
            "«0151 23456789»",
            "«01 23 45 67 89»",
            "«06 12 34 56 78»",
            "«06.12.34.56.78»",
            "«020 7946 0958»",
            "«07700 900123»",
            "«06-12345678»",
            "«098765 43210»",
            "«0 98765 43210»",
            "«0470 12 34 56»",
            "«044 668 18 00»",
            "«06 1234 5678»",
            "«(030) 12345678»",
            "«0221/1234567»",
            "«0470/12.34.56»",
            "«02/123.45.67»",
            "«0664 1234567»",
            "«08-123 456 78»",
            "send it to «0412 345 678» please",
        ] {
            assert!(check(text), "{text}");
        }
    }

    #[test]
    fn plan_shapes_without_a_trunk_prefix() {
        for text in [
            "«612 34 56 78»",
            "«91 123 45 67»",
            "«347 123 4567»",
            "«(11) 91234-5678»",
            "«(11) 2345-6789»",
            "«(11) 9 8765-4321»",
        ] {
            assert!(check(text), "{text}");
        }
        // Thousands-like groupings and other shapes need a context word.
        assert!(!check("«699 956 915»"));
        assert!(check("stop receiving messages to «699 956 915»"));
        assert!(!check("«612 345 678»"));
    }

    #[test]
    fn bare_runs_only_as_trunk_mobiles() {
        assert!(check("«09876543210»"));
        assert!(check("«07700900123»"));
        assert!(!check("«03012345678»"), "a landline needs a context word");
        assert!(check("call «03012345678»"));
        assert!(!check("order «48213370»"));
        assert!(!check("«9876543210»"));
        // A phone context word outweighs a word naming another kind of number.
        assert!(check("in order to reach me, use «0151 23456789»"));
    }

    #[test]
    fn dates_times_and_look_alikes_are_not_phones() {
        for text in [
            "«2024-03-15 10»:22:31",
            "«15.03.2024 10»:22",
            "«2023-04-03 01»</td>",
            "«2024-03-15 1022» UTC",
            "«15 03 2024»",
            "«0800-1700»",
            "«03/2024 1234»",
            "«01.02.2024»",
            "«0123 45 6»",
            "«0-306-40615-2»",
            "«0612 345.678»",
            "ISBN «978-0-7216-8435-2»",
            "The textbook (ISBN «0-423-22520-0») is out of stock.",
            "The textbook (ISBN «0-110-23152»-X) is out of stock.",
            "Can you tell me if «03012345678» is right?",
            "«6.4.13778.232»",
            "order «0151 23456789»",
            "order «09876543210»",
            "«10.10.110.231»",
            "«1 234 567»",
        ] {
            assert!(!check(text), "{text}");
        }
        // Not a date: no valid day and month, and no time after it.
        assert!(check("Phone:\n«60-56-85-91»"));
    }

    #[test]
    fn invalid_numbers_are_not_phones() {
        // Right shape, but no valid number in any covered plan.
        assert!(!check("«01 23 45 67 89 01»"));
        assert!(!check("«555 12 34 56»"));
        assert!(!check("«300 123 4567»"));
        assert!(!check("«(10) 91234-5678»"));
        assert!(!check("«(11) 61234-5678»"));
    }

    #[test]
    fn engine_reports_national_numbers_once_and_never_timestamps() {
        let ids = super::super::tests::matched_ids;
        for text in [
            "Meine Nummer ist 030 12345678.",
            "Bureau : 01 23 45 67 89",
            "0221/1234567",
            "Write down 098765 43210 please",
        ] {
            assert_eq!(ids(text), ["sys_pii_phone"], "{text}");
        }
        for text in [
            "2024-03-15T10:22:31Z",
            "logged at 2024-03-15 10:22:31 by the job",
            "am 15.03.2024 10:22 erstellt",
            "2023-04-03 01:15",
        ] {
            assert!(ids(text).is_empty(), "{text}");
        }
        for text in [
            "DE89 3704 0044 0532 0130 00",
            "NL91 ABNA 0417 1643 00",
            "nl91 abna 0417 1643 00",
        ] {
            assert_eq!(ids(text), ["sys_pii_iban"], "{text}");
        }
    }

    /// The phone numbers of `corpus/pii_generated.jsonl` (made by `corpus/generate_pii.py`) are valid
    /// in the plan their variant names, and its invalid ones are not.
    #[test]
    fn generated_corpus_numbers_match_their_plans() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/pii_generated.jsonl");
        let corpus = std::fs::read_to_string(path).expect("run policy/corpus/generate_pii.py");
        let number = regex::Regex::new(r"[+(]?\d[\d ()./-]*\d").expect("regex");
        let mut checked = 0;
        let mut wrong = Vec::new();
        for line in corpus.lines() {
            let item: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            let variant = item["variant"].as_str().expect("variant");
            let parts: Vec<&str> = variant.split('/').collect();
            let expected = match parts[0] {
                "phone" => true,
                "phone_invalid" => false,
                _ => continue,
            };
            let text = item["text"].as_str().expect("text");
            let value = number.find(text).expect("a number in the text").as_str();
            let valid = if value.starts_with('+') {
                valid_phone_in(value, None).is_some()
            } else {
                let region: Id = parts[1].to_ascii_uppercase().parse().expect("region");
                let code = DATABASE
                    .by_id(region.as_ref())
                    .expect("metadata")
                    .country_code();
                phonenumber::parse(Some(region), value)
                    .is_ok_and(|p| p.code().value() == code && phonenumber::is_valid(&p))
            };
            if valid != expected {
                wrong.push(format!("{variant}: {value:?} in {text:?}"));
            }
            checked += 1;
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert!(checked >= 300, "{checked} numbers checked");
    }

    #[test]
    fn iban_tails_are_not_phones() {
        assert!(!check("nl91 abna «0417 1643 00»"));
        assert!(!check("NL91 ABNA «0417 1643 00»"));
        assert!(check("ring «0417 1643 00»"));
    }
}
