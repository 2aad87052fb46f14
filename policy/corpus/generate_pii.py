#!/usr/bin/env python3
"""Generates pii_generated.jsonl: labelled personal-data test items made from grammars of each format.

Same schema as the shared corpus's pii.jsonl (id, text, labels, kind, source, variant). Every item is
built here from number ranges and check-digit algorithms; nothing is copied from a public collection.

- National phone numbers of the covered numbering plans (DE, FR, GB, IT, ES, NL, BE, CH, AT, IN, BR,
  AU, IE, SE, ZA, JP, PT), in the groupings people write them, bare or inside sentences without a
  phone context word; groupings that are ambiguous on their own (thousands-like, bare landlines)
  appear only after a context word.
- Brazilian numbers in international and national form (some chosen so that their digits also pass
  the Aadhaar checksum: they must still be phones only).
- IBANs of several countries with check digits computed by mod-97 (and national check digits where
  the country has them), compact and in groups of four, in upper, lower and mixed case.
- Negatives (labels []): numbers of the right shape outside the plan's ranges, IBANs with wrong check
  digits, ISO timestamps and dates, opening hours, thousands, versions, ISBNs, prices, order numbers.

Python 3 standard library only; a fixed seed makes the output identical on every run:

    python3 policy/corpus/generate_pii.py            # writes policy/corpus/pii_generated.jsonl
    python3 policy/corpus/generate_pii.py --stdout   # prints it instead

Unit tests of the policy crate check the generated values: phone numbers against the numbering-plan
metadata (`generated_corpus_numbers_match_their_plans` in policy/src/detectors/pii/phone.rs), IBANs
against mod-97 and the country formats (`generated_corpus_ibans_match_their_rules` in
policy/src/detectors/pii.rs).
"""

import json
import random
import string
import sys
from pathlib import Path

SEED = 20240315
OUT = Path(__file__).resolve().parent / "pii_generated.jsonl"

rng = random.Random(SEED)


def digits(n, first="0123456789"):
    """n random digits, the first one from `first`."""
    if n == 0:
        return ""
    return rng.choice(first) + "".join(rng.choice(string.digits) for _ in range(n - 1))


def group(number, sizes, sep=" "):
    """Splits `number` into groups of `sizes` joined by `sep`."""
    assert sum(sizes) == len(number), (number, sizes)
    out, pos = [], 0
    for size in sizes:
        out.append(number[pos : pos + size])
        pos += size
    return sep.join(out)


# ---------------------------------------------------------------------------------------------------
# Sentences. None of them holds a phone context word (phone, call, mobile, cell, tel..., text, dial,
# reach, contact, message, sms, ring, fax, whatsapp...) or another digit.

NEUTRAL = [
    "{}",
    "{}",
    "{}",
    "Forward this to the team along with {}.",
    "Can you check why {} shows up twice in the log?",
    "The form was submitted with {} in the wrong field.",
    "Here it is: {}. Let me know if you need anything else.",
    "Please add {} to the customer record before Friday.",
    "Update the CRM entry, the new one is {}.",
    "Anna Schmidt, {}, Berlin.",
    "Somebody wrote {} on the back of the envelope.",
    "Is {} still the right one for the landlord?",
    "Ich bin unter {} erreichbar.",
    "Vous pouvez me joindre au {}.",
    "Mi numero es el {}.",
    "Write down {} and keep it safe.",
]

# With a phone context word: for forms that are ambiguous without one.
CONTEXT = [
    "Call me on {} after lunch.",
    "WhatsApp me at {}.",
    "Send an SMS to {} when you arrive.",
    "My phone: {}",
    "You can reach her at {} most mornings.",
    "Ring {} if the door is locked.",
    "Mobile {} (personal).",
]

# Sentences for negatives: no context word either.
NEGATIVE = [
    "{}",
    "{}",
    "The log shows {} for the failed job.",
    "Please double-check {} in the report.",
    "We noted {} in the minutes.",
    "The spreadsheet shows {} after the import.",
]

items = []


def add(text, labels, grammar, variant):
    items.append(
        {
            "text": text,
            "labels": labels,
            "kind": "pii_generated",
            "source": f"generated:{grammar}",
            "variant": variant,
        }
    )


def sentence(value, templates=NEUTRAL):
    return rng.choice(templates).format(value)


# ---------------------------------------------------------------------------------------------------
# National phone numbers: (country, generator) pairs. Each generator returns a number as written
# nationally. Ranges are taken from the national numbering plans (area codes of large cities and
# mobile prefixes in service).


def de():
    kind = rng.randrange(5)
    if kind == 0:
        area = rng.choice(["030", "040", "089", "069"])
        return area + " " + digits(8, "2345678")
    if kind == 1:
        area = rng.choice(["0221", "0211", "0711", "0351"])
        return group(area + digits(7, "2345678"), [4, 7], rng.choice([" ", "-", "/"]))
    if kind == 2:
        return group(rng.choice(["0151", "0152", "0157", "0160", "0162"]) + digits(8), [4, 8])
    if kind == 3:
        return group(rng.choice(["0170", "0171", "0172", "0175", "0176"]) + digits(7), [4, 3, 4])
    return "(" + rng.choice(["030", "040"]) + ") " + digits(8, "2345678")


def fr():
    prefix = rng.choice(["01", "02", "03", "04", "05", "06", "06", "07", "09"])
    if prefix == "07":
        prefix += rng.choice("56789")
        number = prefix + digits(7)
    else:
        # Not 0262/0269, 059x, 0639 or 0976: overseas departments with their own country codes.
        number = prefix + digits(8, "1245")
    return group(number, [2, 2, 2, 2, 2], rng.choice([" ", " ", ".", "-"]))


def gb():
    kind = rng.randrange(4)
    if kind == 0:
        return group("020" + rng.choice("378") + digits(7), [3, 4, 4])
    if kind == 1:
        return group("0161" + digits(7, "2345789"), [4, 3, 4])
    if kind == 2:
        return group("07" + rng.choice(["400", "711", "800", "900", "956"]) + digits(6), [5, 6])
    return group("07" + rng.choice(["711", "722", "811", "958"]) + digits(6), [5, 3, 3])


def it():
    kind = rng.randrange(4)
    if kind == 0:
        return group("06" + digits(8, "2345789"), [2, 4, 4])
    if kind == 1:
        return "02 " + digits(8, "2345789")
    if kind == 2:
        mobile = rng.choice(["320", "328", "333", "338", "340", "347", "349", "366", "380", "389"])
        return group(mobile + digits(7), [3, 3, 4])
    mobile = rng.choice(["320", "333", "347", "389"])
    return mobile + " " + digits(7)


def es():
    if rng.randrange(3):
        mobile = "6" + digits(8) if rng.randrange(4) else "7" + rng.choice("1234") + digits(7)
        return group(mobile, [3, 2, 2, 2])
    return group(rng.choice(["91", "93"]) + digits(7, "2345678"), [2, 3, 2, 2])


def nl():
    kind = rng.randrange(4)
    if kind == 0:
        return "06-" + rng.choice("12345") + digits(7)
    if kind == 1:
        return group("06" + rng.choice("12345") + digits(7), [2, 4, 4])
    if kind == 2:
        return group(rng.choice(["020", "010", "070"]) + digits(7, "2345678"), [3, 7], "-")
    return group(rng.choice(["020", "030"]) + digits(7, "2345678"), [3, 3, 4])


def be():
    if rng.randrange(2):
        return group("04" + rng.choice(["70", "71", "75", "76", "77", "78", "79", "84", "85", "86", "94", "95", "96", "97", "98", "99"]) + digits(6), [4, 2, 2, 2])
    return group(rng.choice(["02", "03", "09"]) + digits(7, "2345"), [2, 3, 2, 2])


def ch():
    prefix = rng.choice(["044", "043", "022", "031", "061", "076", "077", "078", "079"])
    return group(prefix + digits(7, "2345678"), [3, 3, 2, 2])


def at():
    if rng.randrange(2):
        return rng.choice(["0664", "0660", "0676", "0650", "0699"]) + " " + digits(7, "123456789")
    return group("01" + digits(7, "2345678"), [2, 7])


def india():
    kind = rng.randrange(4)
    mobile = rng.choice("6789") + digits(9)
    if kind == 0:
        return group("0" + mobile, [6, 5])
    if kind == 1:
        return "0 " + group(mobile, [5, 5])
    if kind == 2:
        return group("0" + mobile, [5, 6])
    return group(rng.choice(["011", "022", "080"]) + rng.choice("2346") + digits(7), [3, 4, 4])


def br():
    ddd = rng.choice(["11", "21", "31", "41", "51", "61", "71", "81", "85", "19"])
    if rng.randrange(3):
        return "(" + ddd + ") 9" + digits(4, "6789") + "-" + digits(4)
    if rng.randrange(2):
        return "(" + ddd + ") " + digits(4, "2345") + "-" + digits(4)
    return ddd + " 9" + digits(4, "6789") + "-" + digits(4)


def au():
    if rng.randrange(2):
        return group("04" + rng.choice("0123") + digits(7), [4, 3, 3])
    area, first = rng.choice([("02", "89"), ("03", "89"), ("07", "3"), ("08", "89")])
    number = group(area + digits(8, first), [2, 4, 4])
    return "(" + number[:2] + ")" + number[2:] if rng.randrange(2) else number


def ie():
    if rng.randrange(2):
        return group(rng.choice(["083", "085", "086", "087", "089"]) + digits(7, "123456789"), [3, 3, 4])
    return group("01" + digits(7, "2345678"), [2, 3, 4])


def se():
    if rng.randrange(2):
        number = "08" + digits(7, "2345678")
        return number[:2] + "-" + group(number[2:], [3, 2, 2])
    number = rng.choice(["070", "072", "073", "076", "079"]) + digits(7)
    return number[:3] + "-" + group(number[3:], [3, 2, 2])


def za():
    prefix = rng.choice(["082", "083", "072", "073", "084", "011", "021"])
    return group(prefix + digits(7, "2345678"), [3, 3, 4])


def jp():
    if rng.randrange(2):
        return group("03" + digits(8, "23456789"), [2, 4, 4], "-")
    return group(rng.choice(["090", "080", "070"]) + digits(8, "123456789"), [3, 4, 4], "-")


PLANS = [
    ("de", de),
    ("fr", fr),
    ("gb", gb),
    ("it", it),
    ("es", es),
    ("nl", nl),
    ("be", be),
    ("ch", ch),
    ("at", at),
    ("in", india),
    ("br", br),
    ("au", au),
    ("ie", ie),
    ("se", se),
    ("za", za),
    ("jp", jp),
]

for country, make in PLANS:
    for _ in range(14):
        add(sentence(make()), ["pii:phone"], "phone_national", f"phone/{country}/national")

# Bare mobile numbers with their trunk 0: unambiguous without a context word.
for country, make in [
    ("in", lambda: "0" + rng.choice("6789") + digits(9)),
    ("gb", lambda: "07" + rng.choice(["400", "711", "812", "956"]) + digits(6)),
    ("fr", lambda: "06" + digits(8, "1245")),
    ("de", lambda: rng.choice(["0151", "0160", "0176"]) + digits(7 if rng.randrange(2) else 8)),
]:
    for _ in range(6):
        add(sentence(make()), ["pii:phone"], "phone_bare", f"phone/{country}/national_bare")

# Forms that need a context word: thousands-like groupings and bare landlines.
CONTEXT_FORMS = [
    ("es", lambda: group("6" + digits(8), [3, 3, 3])),
    ("pt", lambda: group("9" + rng.choice("1236") + digits(7), [3, 3, 3])),
    ("de", lambda: "030" + digits(8, "2345678")),
    ("fr", lambda: "01" + digits(8, "123456789")),
    ("it", lambda: "347" + digits(7)),
    ("nl", lambda: "020" + digits(7, "2345678")),
]
for country, make in CONTEXT_FORMS:
    for _ in range(6):
        add(sentence(make(), CONTEXT), ["pii:phone"], "phone_context", f"phone/{country}/national_context")

# Brazil in international form: phones only, never Aadhaar.


def verhoeff_ok(number):
    d = [
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
    ]
    p = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ]
    check = 0
    for idx, digit in enumerate(reversed(number)):
        check = d[check][p[idx % 8][int(digit)]]
    return check == 0


def br_landline_passing_verhoeff():
    while True:
        ddd = rng.choice(["11", "21", "31", "41", "51"])
        local = digits(8, "2345")
        if verhoeff_ok("55" + ddd + local):
            return ddd, local


for idx in range(30):
    ddd = rng.choice(["11", "21", "31", "41", "61", "71", "81"])
    mobile = "9" + digits(8, "6789")
    form = idx % 6
    if form == 0:
        text = f"+55 {ddd} {mobile[:5]}-{mobile[5:]}"
    elif form == 1:
        text = f"+55 ({ddd}) {mobile[:5]}-{mobile[5:]}"
    elif form == 2:
        text = f"+55{ddd}{mobile}"
    else:
        # Landlines whose twelve digits also pass the Aadhaar checksum.
        ddd, local = br_landline_passing_verhoeff()
        text = [f"+55{ddd}{local}", f"+55 {ddd} {local[:4]}-{local[4:]}", f"+55 {ddd} {local[:4]} {local[4:]}"][form - 3]
    add(sentence(text), ["pii:phone"], "phone_br", "phone/br/intl")

# ---------------------------------------------------------------------------------------------------
# Phone-shaped numbers that are not valid in their plan (negatives).

INVALID = [
    ("es", lambda: group(rng.choice(["50", "55", "56", "57", "58", "59"]) + digits(7), [3, 2, 2, 2])),
    ("it", lambda: group("30" + rng.choice("0") + digits(7), [3, 3, 4])),
    ("br", lambda: "(" + rng.choice(["10", "20", "23", "25", "26"]) + ") 9" + digits(4, "6789") + "-" + digits(4)),
    ("br", lambda: "(" + rng.choice(["11", "21"]) + ") " + rng.choice("1") + digits(4) + "-" + digits(4)),
    ("fr", lambda: group("0" + rng.choice("123456") + digits(10), [2, 2, 2, 2, 2, 2])),
    ("fr", lambda: group("0" + rng.choice("123456") + digits(6), [2, 2, 2, 2])),
    ("us", lambda: "(1" + digits(2) + ") " + digits(3, "23456789") + "-" + digits(4)),
]
for country, make in INVALID:
    for _ in range(6):
        add(sentence(make(), NEGATIVE), [], "phone_invalid", f"phone_invalid/{country}/national")

# ---------------------------------------------------------------------------------------------------
# IBANs.

LETTERS = string.ascii_uppercase


def iban_check(country, bban):
    """The two mod-97 check digits of an IBAN (ISO 13616)."""
    rearranged = bban + country + "00"
    number = "".join(str(int(c, 36)) for c in rearranged)
    return "%02d" % (98 - int(number) % 97)


def rib_key(bank, branch, account):
    """French national check key (clé RIB) of a numeric account."""
    return "%02d" % (97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97)


def es_control(bank, branch, account):
    """Spanish national control digits (dígitos de control)."""

    def digit(numbers, weights):
        total = sum(int(n) * w for n, w in zip(numbers, weights))
        value = 11 - total % 11
        return {10: 1, 11: 0}.get(value, value)

    first = digit("00" + bank + branch, [1, 2, 4, 8, 5, 10, 9, 7, 3, 6])
    second = digit(account, [1, 2, 4, 8, 5, 10, 9, 7, 3, 6])
    return f"{first}{second}"


def be_bban():
    first = digits(10, "0123456789")
    check = int(first) % 97 or 97
    return first + "%02d" % check


BBANS = {
    "DE": lambda: digits(8, "123456789") + digits(10),
    "GB": lambda: "".join(rng.choice(LETTERS) for _ in range(4)) + digits(14),
    "FR": lambda: (lambda b, g, a: b + g + a + rib_key(b, g, a))(digits(5, "123456789"), digits(5), digits(11)),
    "ES": lambda: (lambda b, g, a: b + g + es_control(b, g, a) + a)(digits(4, "123456789"), digits(4), digits(10)),
    "NL": lambda: "".join(rng.choice(LETTERS) for _ in range(4)) + digits(10),
    "BE": be_bban,
    "AT": lambda: digits(16, "123456789"),
    "CH": lambda: digits(17, "0"),
    "PL": lambda: digits(24, "123456789"),
    "IE": lambda: "".join(rng.choice(LETTERS) for _ in range(4)) + digits(14),
}


def iban(country):
    bban = BBANS[country]()
    return country + iban_check(country, bban) + bban


def grouped(value):
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


def mixed_case(value):
    return "".join(c.lower() if c.isalpha() and rng.randrange(2) else c for c in value)


def title_case(value):
    return " ".join(g[0] + g[1:].lower() for g in value.split(" ")) if " " in value else value[0] + value[1:].lower()


CASES = [
    ("upper_compact", lambda v: v),
    ("upper_grouped", grouped),
    ("lower_compact", lambda v: v.lower()),
    ("lower_grouped", lambda v: grouped(v).lower()),
    ("mixed_grouped", lambda v: title_case(grouped(v))),
    ("mixed_compact", mixed_case),
]

IBAN_SENTENCES = [
    "{}",
    "{}",
    "Please wire the deposit to {}.",
    "Forward this to the team along with {}.",
    "The refund goes to {}, not to the old one.",
    "Can you check why {} shows up twice in the log?",
    "Überweisung bitte auf {} bis Freitag.",
]

for country in BBANS:
    for case, write in CASES:
        add(rng.choice(IBAN_SENTENCES).format(write(iban(country))), ["pii:iban"], "iban_case", f"iban/{country}/{case}")

# Wrong check digits or a wrong length: negatives.
for idx in range(24):
    country = list(BBANS)[idx % len(BBANS)]
    value = iban(country)
    if idx % 3 == 2:
        value = value[:-1]
    else:
        wrong = rng.choice([c for c in range(2, 99) if c != int(value[2:4])])
        value = value[:2] + "%02d" % wrong + value[4:]
    case, write = CASES[idx % len(CASES)]
    add(rng.choice(NEGATIVE).format(write(value)), [], "iban_invalid", f"iban_invalid/{country}/{case}")

# ---------------------------------------------------------------------------------------------------
# Look-alikes (negatives).


def date_parts():
    return rng.randint(2015, 2026), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)


TIMESTAMPS = [
    lambda y, m, d, h, mi, s: f"{y}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z",
    lambda y, m, d, h, mi, s: f"{y}-{m:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}",
    lambda y, m, d, h, mi, s: f"{y}-{m:02d}-{d:02d} {h:02d}:{mi:02d}",
    lambda y, m, d, h, mi, s: f"{d:02d}.{m:02d}.{y} {h:02d}:{mi:02d}",
    lambda y, m, d, h, mi, s: f"{d:02d}/{m:02d}/{y} {h:02d}:{mi:02d}:{s:02d}",
    lambda y, m, d, h, mi, s: f"{y}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{rng.randint(100, 999)}+01:00",
    lambda y, m, d, h, mi, s: f"{m:02d}-{d:02d}-{y} {h:02d}:{mi:02d}",
]
for idx in range(42):
    add(rng.choice(NEGATIVE).format(TIMESTAMPS[idx % len(TIMESTAMPS)](*date_parts())), [], "timestamp", "negative/timestamp")

DATES = [
    lambda y, m, d: f"{d:02d}.{m:02d}.{y}",
    lambda y, m, d: f"{y}-{m:02d}-{d:02d}",
    lambda y, m, d: f"{d:02d} {m:02d} {y}",
    lambda y, m, d: f"{d:02d}/{m:02d}/{y}",
    lambda y, m, d: f"{y}/{m:02d}/{d:02d}",
]
for idx in range(20):
    y, m, d, _, _, _ = date_parts()
    add(rng.choice(NEGATIVE).format(DATES[idx % len(DATES)](y, m, d)), [], "date", "negative/date")

for _ in range(12):
    start, end = rng.choice(["0800", "0830", "0900", "0930", "1000"]), rng.choice(["1630", "1700", "1730", "1800", "2000"])
    text = rng.choice([f"Open {start}-{end} on weekdays.", f"Opening hours: {start}-{end}", f"{start}-{end}"])
    add(text, [], "time_range", "negative/time_range")

for _ in range(15):
    value = group(digits(9, "123456789"), [3, 3, 3], rng.choice([" ", "."]))
    text = rng.choice([f"The plant produced {value} units last year.", f"Population: {value}", f"{value} EUR in total"])
    add(text, [], "thousands", "negative/thousands")

for _ in range(15):
    value = rng.choice(
        [
            f"{rng.randint(1, 12)}.{rng.randint(0, 9)}.{rng.randint(10000, 26000)}.{rng.randint(1, 3000)}",
            f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}",
            f"{rng.randint(1, 19)}.{rng.randint(0, 20)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}",
        ]
    )
    add(f"After updating to {value} the plugin no longer loads.", [], "version", "negative/version")


def isbn13():
    body = "978" + digits(9)
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body))
    return body + str((10 - total % 10) % 10)


def isbn10():
    body = "0" + digits(8)
    total = sum(int(c) * (10 - i) for i, c in enumerate(body))
    check = (11 - total % 11) % 11
    return body + ("X" if check == 10 else str(check))


for idx in range(12):
    if idx % 2:
        value = isbn13()
        value = f"{value[:3]}-{value[3]}-{value[4:8]}-{value[8:12]}-{value[12]}"
    else:
        value = isbn10()
        value = f"{value[0]}-{value[1:4]}-{value[4:9]}-{value[9]}"
    add(f"The textbook (ISBN {value}) is out of stock.", [], "isbn", "negative/isbn")

for _ in range(12):
    value = rng.choice(
        [
            f"€ {rng.randint(1, 999)}.{rng.randint(100, 999)}.{rng.randint(100, 999)},{rng.randint(10, 99)}",
            f"{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)},{rng.randint(10, 99)} €",
            f"${rng.randint(1, 999)},{rng.randint(100, 999)},{rng.randint(100, 999)}.{rng.randint(10, 99)}",
        ]
    )
    add(f"The quote came to {value} including tax.", [], "price", "negative/price")

for _ in range(15):
    value = rng.choice(
        [
            f"{rng.randint(100, 999)}-{digits(7)}-{digits(7)}",
            f"INV-{rng.randint(2019, 2026)}-{digits(6)}",
            f"#{digits(8, '123456789')}",
            group(digits(22, "9"), [4, 4, 4, 4, 4, 2]),
        ]
    )
    add(f"Please cancel order {value}, I ordered the wrong size.", [], "order_ref", "negative/order_ref")

# ---------------------------------------------------------------------------------------------------


def main():
    lines = []
    for idx, item in enumerate(items, start=1):
        record = {"id": f"pii-gen-{idx:05d}", **item}
        lines.append(json.dumps(record, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    if "--stdout" in sys.argv[1:]:
        sys.stdout.write(text)
    else:
        OUT.write_text(text, encoding="utf-8")
        print(f"wrote {len(lines)} items to {OUT.name}", file=sys.stderr)


if __name__ == "__main__":
    main()
