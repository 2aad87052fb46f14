//! Validators of personal data: checksums (Luhn, Verhoeff, mod-97, ABA), issuing rules (SSA, card
//! networks, HMRC, Indian PAN), phone-number metadata, and context words where the value alone is
//! ambiguous (bare SSNs, passports, dates of birth, account numbers).

use std::net::Ipv6Addr;
use std::str::FromStr;

use super::{digits, has_context_before, number, part_of_longer_number, Candidate};

mod phone;

pub(crate) use phone::phone;
pub(crate) use phone::warm_up as warm_up_phones;

const SSN_CONTEXT: &[&str] = &[
    "ssn",
    "social security",
    "ss#",
    "ss #",
    "ss no",
    "taxpayer id",
];

/// SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000. A bare 9-digit run counts
/// only with a context word shortly before it.
pub(crate) fn ssn(candidate: &Candidate<'_>) -> bool {
    let d = digits(candidate.as_str());
    if d.len() != 9 || part_of_longer_number(candidate) {
        return false;
    }
    let (area, group, serial) = (number(&d[0..3]), number(&d[3..5]), number(&d[5..9]));
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    let bare = candidate.as_str().bytes().all(|b| b.is_ascii_digit());
    !bare || has_context_before(candidate, 40, SSN_CONTEXT)
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
    sum.is_multiple_of(10)
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
    // JCB's assigned range is 3528-3589; issuers and test generators use all of 35xx.
    let jcb = ((16..=19).contains(&len) && prefix(2) == 35)
        || (len == 15 && matches!(prefix(4), 2131 | 1800));
    let diners = (14..=19).contains(&len)
        && ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38 | 39));
    let maestro = (12..=19).contains(&len)
        && matches!(
            prefix(4),
            5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763
        );
    visa || mastercard || amex || discover || jcb || diners || maestro
}

pub(crate) fn payment_card(candidate: &Candidate<'_>) -> bool {
    let text = candidate.as_str();
    let d = digits(text);
    if !(12..=19).contains(&d.len())
        || part_of_longer_number(candidate)
        || continues_grouping(candidate)
    {
        return false;
    }
    // One kind of separator at most: "4111 1111-1111 1111" is not how anyone writes a card number.
    if text.contains(' ') && text.contains('-') {
        return false;
    }
    known_card_network(&d) && luhn_valid(&d)
}

pub(crate) fn email(candidate: &Candidate<'_>) -> bool {
    let text = candidate.as_str();
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !domain.contains("..")
}

/// A grouped number that continues with another group (`4111 1111 1111 1111` seen from its first 12
/// digits, or the tail of an IBAN) is part of something longer.
pub(crate) fn continues_grouping(candidate: &Candidate<'_>) -> bool {
    static GROUP_BEFORE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?:\d[ -]|(?:^|[^A-Za-z0-9])(?:[A-Z]{2}\d{2}|[A-Z0-9]{4})[ -](?:[A-Z0-9]{4}[ -])*|(?:^|[^A-Za-z0-9])[A-Za-z]{2}\d{2}[ -](?:[A-Za-z0-9]{4}[ -])*)$",
        )
        .expect("static regex")
    });
    let text = candidate.as_str();
    let Some(separator) = text.chars().find(|c| *c == ' ' || *c == '-') else {
        return false;
    };
    let mut after_chars = candidate.after(2).chars();
    let continues_after = after_chars.next() == Some(separator)
        && after_chars
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
    continues_after || GROUP_BEFORE.is_match(candidate.before(24))
}

const SOFTWARE_VERSION_CONTEXT: &[&str] = &[
    "version",
    "ver.",
    "release",
    "build",
    "firmware",
    "toolchain",
    "runtime",
    "sdk",
    "patch",
    "upgrade",
    "update to",
    "changelog",
    "package",
    "library",
    "kernel",
    "driver",
    "v.",
    "node ",
    "python ",
    "updating to",
    "updated to",
    "upgrading to",
    "upgraded to",
    "chrome",
    "firefox",
    "safari",
    "android",
    "ios ",
    "windows",
    "macos",
    "java ",
    "plugin",
    "app ",
];

/// An IPv4 address used as an address, not a four-part software version.
pub(crate) fn ipv4(candidate: &Candidate<'_>) -> bool {
    let before = candidate.before(1);
    let after = candidate.after(2);
    if before.ends_with(|c: char| c.is_alphanumeric() || c == '.')
        || (after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit()))
    {
        return false;
    }
    !has_context_before(candidate, 32, SOFTWARE_VERSION_CONTEXT)
        && !super::has_context(candidate.after(24), &["changelog", "release notes"])
}

pub(crate) fn ipv6(candidate: &Candidate<'_>) -> bool {
    let text = candidate.as_str();
    let before = candidate.before(1);
    if before.ends_with(|c: char| c.is_alphanumeric() || c == ':')
        || candidate
            .after(1)
            .starts_with(|c: char| c.is_alphanumeric() || c == ':')
    {
        return false;
    }
    let n_groups = text.split(':').filter(|g| !g.is_empty()).count();
    (n_groups >= 3 || text.contains("::") && n_groups >= 2) && Ipv6Addr::from_str(text).is_ok()
}

/// Country format (length, BBAN shape) and mod-97 check digits, in any letter case.
pub(crate) fn iban(candidate: &Candidate<'_>) -> bool {
    let compact: String = candidate
        .as_str()
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    iban::Iban::from_str(&compact).is_ok()
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

pub(crate) fn verhoeff_valid(digits: &[u8]) -> bool {
    let mut check = 0u8;
    for (idx, digit) in digits.iter().rev().enumerate() {
        check =
            VERHOEFF_D[usize::from(check)][usize::from(VERHOEFF_P[idx % 8][usize::from(*digit)])];
    }
    check == 0
}

pub(crate) fn aadhaar(candidate: &Candidate<'_>) -> bool {
    let d = digits(candidate.as_str());
    // A 12-digit Maestro number can pass Verhoeff too: next to "card" without an Aadhaar word it is a card.
    let card_context = has_context_before(candidate, 32, &["card"])
        && !has_context_before(candidate, 48, &["aadhaar", "aadhar", "uid"]);
    d.len() == 12
        && !part_of_longer_number(candidate)
        && !continues_grouping(candidate)
        && !card_context
        && !after_country_code(candidate)
        && !looks_like_timestamp(&d)
        && verhoeff_valid(&d)
}

/// Twelve digits that read as `YYYYMMDDhhmm` (a version or migration stamp such as `202101091538`).
fn looks_like_timestamp(d: &[u8]) -> bool {
    d.len() == 12
        && (1990..=2099).contains(&number(&d[0..4]))
        && (1..=12).contains(&number(&d[4..6]))
        && (1..=31).contains(&number(&d[6..8]))
        && number(&d[8..10]) <= 23
        && number(&d[10..12]) <= 59
}

/// Digits right after a `+` or a `+CC` country code are a phone number (`+551123456784`, whose twelve
/// digits pass the Verhoeff check), never an identity number.
fn after_country_code(candidate: &Candidate<'_>) -> bool {
    static COUNTRY_CODE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\+(?:\d{1,3}[ .-]?)?$").expect("static regex")
    });
    COUNTRY_CODE.is_match(candidate.before(5))
}

const PASSPORT_CONTEXT: &[&str] = &["passport"];

pub(crate) fn us_passport(candidate: &Candidate<'_>) -> bool {
    !part_of_longer_number(candidate) && has_context_before(candidate, 48, PASSPORT_CONTEXT)
}

/// HMRC rules: first letter not D, F, I, Q, U, V; second not D, F, I, O, Q, U, V; prefixes BG, GB, KN,
/// NK, NT, TN and ZZ never issued; suffix A-D. The regex enforces the letter sets.
pub(crate) fn uk_nino(candidate: &Candidate<'_>) -> bool {
    let prefix = &candidate.as_str()[..2];
    !matches!(prefix, "BG" | "GB" | "KN" | "NK" | "NT" | "TN" | "ZZ")
}

const DOB_CONTEXT: &[&str] = &[
    "born",
    "dob",
    "d.o.b",
    "date of birth",
    "birth date",
    "birthdate",
    "birthday",
];

pub(crate) fn date_of_birth(candidate: &Candidate<'_>) -> bool {
    has_context_before(candidate, 40, DOB_CONTEXT)
}

const ROUTING_CONTEXT: &[&str] = &["routing", "aba", "rtn", "transit number"];

/// ABA routing number: 3-7-1 weighted checksum, next to a routing context word.
pub(crate) fn aba_routing(candidate: &Candidate<'_>) -> bool {
    let d = digits(candidate.as_str());
    if d.len() != 9
        || part_of_longer_number(candidate)
        || !has_context_before(candidate, 40, ROUTING_CONTEXT)
    {
        return false;
    }
    let weights = [3u32, 7, 1];
    let sum: u32 = d
        .iter()
        .enumerate()
        .map(|(i, digit)| u32::from(*digit) * weights[i % 3])
        .sum();
    sum.is_multiple_of(10) && sum > 0
}

const ACCOUNT_CONTEXT: &[&str] = &[
    "account number",
    "account no",
    "acct",
    "a/c",
    "bank account",
    "account #",
];

/// Bank account numbers have no universal checksum; only numbers right after an account context word
/// are reported.
pub(crate) fn bank_account(candidate: &Candidate<'_>) -> bool {
    !part_of_longer_number(candidate) && has_context_before(candidate, 32, ACCOUNT_CONTEXT)
}

/// A UPI id names a payment service handle after the `@`; an e-mail address continues with a domain.
pub(crate) fn upi_id(candidate: &Candidate<'_>) -> bool {
    let after = candidate.after(2);
    let continues_as_domain =
        after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_alphanumeric());
    let continues_as_word = after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-');
    !(continues_as_domain || continues_as_word)
}

pub(crate) fn medical_record_number(candidate: &Candidate<'_>) -> bool {
    candidate
        .as_str()
        .bytes()
        .rev()
        .take(15)
        .any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert!(luhn_valid(&digits("79927398713")));
        assert!(!luhn_valid(&digits("79927398710")));
        assert!(verhoeff_valid(&digits("2363")));
        assert!(!verhoeff_valid(&digits("2364")));
    }

    pub(crate) fn matched_ids(text: &str) -> Vec<String> {
        let engine = crate::Engine::compile(&crate::system_policies(), Default::default())
            .expect("system policies compile");
        engine
            .evaluate(text)
            .matches
            .iter()
            .map(|m| m.policy_id.to_string())
            .collect()
    }

    #[test]
    fn ibans_in_any_letter_case() {
        for text in [
            "de89 3704 0044 0532 0130 00",
            "gb29nwbk60161331926819",
            "Gb29 Nwbk 6016 1331 9268 19",
            "gB29NwBk60161331926819",
            "IBAN at61 1904 3002 3457 3201 and the rest",
            "AT61 1904 3002 3457 3201 and the rest",
        ] {
            assert_eq!(matched_ids(text), ["sys_pii_iban"], "{text}");
        }
        // Wrong check digits, a missing character, no IBAN country.
        for text in [
            "de88 3704 0044 0532 0130 00",
            "gb29nwbk6016133192681",
            "xx89 3704 0044 0532 0130 00",
        ] {
            assert!(matched_ids(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn digits_after_a_country_code_are_no_aadhaar() {
        assert_eq!(matched_ids("Aadhaar 2345 6789 0124"), ["sys_pii_aadhaar"]);
        // Its twelve digits pass the Verhoeff check.
        assert_eq!(matched_ids("+551123456784"), ["sys_pii_phone"]);
        assert_eq!(matched_ids("+55 11 91234-5678"), ["sys_pii_phone"]);
        // Passes the Verhoeff check, but reads as a date and time.
        assert!(verhoeff_valid(&digits("202101091538")));
        assert!(matched_ids("Is 202101091538 a good version number?").is_empty());
    }

    /// The IBANs of `corpus/pii_generated.jsonl` (made by `corpus/generate_pii.py`) pass mod-97 and
    /// their country format, and its invalid ones do not.
    #[test]
    fn generated_corpus_ibans_match_their_rules() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/pii_generated.jsonl");
        let corpus = std::fs::read_to_string(path).expect("run policy/corpus/generate_pii.py");
        let head = regex::Regex::new(r"\b[A-Za-z]{2}\d{2}[A-Za-z0-9 ]+").expect("regex");
        let mut checked = 0;
        for line in corpus.lines() {
            let item: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            let variant = item["variant"].as_str().expect("variant");
            let expected = match variant.split('/').next() {
                Some("iban") => true,
                Some("iban_invalid") => false,
                _ => continue,
            };
            let text = item["text"].as_str().expect("text");
            let found = head.find(text).expect("an IBAN in the text").as_str();
            let compact: String = found
                .chars()
                .filter(|c| !c.is_whitespace())
                .map(|c| c.to_ascii_uppercase())
                .collect();
            // The length of the country's IBANs cuts off any word that follows.
            let length = match &compact[..2] {
                "BE" => 16,
                "NL" => 18,
                "AT" => 20,
                "CH" => 21,
                "DE" | "GB" | "IE" => 22,
                "ES" => 24,
                "FR" => 27,
                "PL" => 28,
                other => panic!("no length for {other}"),
            };
            let value = &compact[..length.min(compact.len())];
            assert_eq!(
                iban::Iban::from_str(value).is_ok(),
                expected,
                "{variant}: {value} in {text:?}"
            );
            checked += 1;
        }
        assert!(checked >= 60, "{checked} IBANs checked");
    }
}
