"""A seeded generator of PII cases (many formats, several locales) and hard negatives.

Used by ``tests/core/test_redact.py`` (recall / false-positive thresholds) and by
``bench/bench_redact.py`` (prints the figures). Every value is synthetic: card numbers are
Luhn-valid but random, IBANs have correct check digits for random accounts, phone numbers are
valid per ``phonenumbers`` metadata but random.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import string
from dataclasses import dataclass, field

import phonenumbers

PII_KINDS = ("card", "phone", "email", "iban", "ssn", "ip", "secret")
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "BR", "ES", "IT", "NL", "AU", "MX", "CA")


@dataclass(frozen=True)
class Case:
    """One ticket-like text. ``kind``/``value`` name the PII in it (None for a negative);
    ``survivors`` are substrings that must still be present after redaction."""

    text: str
    kind: str | None
    value: str | None
    survivors: tuple[str, ...] = field(default=())
    locale: str = "en"


# --- positives -----------------------------------------------------------------------------------
def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


_CARD_BRANDS = [("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15),
                ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("36", 14), ("62", 19)]


def card_number(rng: random.Random) -> str:
    prefix, length = rng.choice(_CARD_BRANDS)
    digits = _luhn_complete(prefix, length, rng)
    style = rng.choice(["compact", "space", "dash", "space", "dash"])
    if style == "compact":
        return digits
    sep = " " if style == "space" else "-"
    groups = [4, 6, 5] if length == 15 else [4, 6, 4] if length == 14 else [4] * (length // 4) + (
        [length % 4] if length % 4 else [])
    out, i = [], 0
    for g in groups:
        out.append(digits[i:i + g])
        i += g
    return sep.join(out)


def phone_number(rng: random.Random) -> tuple[str, str]:
    """A random valid phone number in one of the region's common formats; returns (text, region)."""
    for _ in range(200):
        region = rng.choice(PHONE_REGIONS)
        kind = rng.choice([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        national = str(example.national_number)
        keep = max(2, len(national) - 5)
        candidate = national[:keep] + "".join(rng.choice(string.digits) for _ in range(len(national) - keep))
        num = phonenumbers.parse("+" + str(example.country_code) + candidate)
        if not phonenumbers.is_valid_number(num):
            continue
        fmt = rng.choice(["E164", "INTERNATIONAL", "NATIONAL", "NATIONAL", "INTERNATIONAL"])
        text = phonenumbers.format_number(num, getattr(phonenumbers.PhoneNumberFormat, fmt))
        if region in ("US", "CA") and rng.random() < 0.3:
            d = national[:0] + str(num.national_number)
            text = rng.choice([f"{d[:3]}-{d[3:6]}-{d[6:]}", f"{d[:3]}.{d[3:6]}.{d[6:]}", f"+1 {d[:3]} {d[3:6]} {d[6:]}"])
        return text, region
    raise RuntimeError("could not generate a phone number")


_FIRST = ["john", "maria", "li", "ahmed", "sofia", "pierre", "anna", "raj", "lucas", "emma", "jürgen", "chloe"]
_LAST = ["smith", "garcia", "wang", "khan", "rossi", "dubois", "muller", "patel", "silva", "brown"]
_DOMAINS = ["example.com", "mail.co.uk", "firma.de", "exemple.fr", "corp.example.org", "uni.edu", "gmail.com",
            "outlook.com", "yahoo.com.br", "company.io"]


def email_address(rng: random.Random) -> str:
    first, last = rng.choice(_FIRST).replace("ü", "u"), rng.choice(_LAST)
    local = rng.choice([f"{first}.{last}", f"{first}{rng.randint(1, 999)}", f"{first[0]}{last}",
                        f"{first}_{last}", f"{first}+support", f"{first.upper()}.{last.title()}"])
    return f"{local}@{rng.choice(_DOMAINS)}"


# Country -> BBAN layout: n = digits, a = upper letters, c = alphanumeric.
_IBAN_LAYOUTS = {"DE": "18n", "GB": "4a14n", "FR": "10n11c2n", "ES": "20n", "NL": "4a10n", "IT": "1a10n12c",
                 "BE": "12n", "CH": "5n12c", "AT": "16n", "PL": "24n", "PT": "21n", "IE": "4a14n", "SE": "20n"}


def iban(rng: random.Random) -> str:
    country = rng.choice(sorted(_IBAN_LAYOUTS))
    layout, bban, num = _IBAN_LAYOUTS[country], [], ""
    for ch in layout:
        if ch.isdigit():
            num += ch
            continue
        pool = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}[ch]
        bban.append("".join(rng.choice(pool) for _ in range(int(num))))
        num = ""
    bban_s = "".join(bban)
    digits = "".join(str(int(c, 36)) for c in bban_s + country + "00")
    check = 98 - int(digits) % 97
    compact = f"{country}{check:02d}{bban_s}"
    if rng.random() < 0.6:
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return compact


def ssn(rng: random.Random) -> str:
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    digits = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
    return rng.choice([f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"] * 3 + [digits, f"{digits[:3]} {digits[3:5]} {digits[5:]}"])


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return str(ipaddress.IPv4Address(rng.randint(0x01000000, 0xDFFFFFFF)))
    addr = ipaddress.IPv6Address(rng.getrandbits(128) if rng.random() < 0.5 else (0x20010DB8 << 96) | rng.getrandbits(32))
    return addr.compressed if rng.random() < 0.7 else addr.exploded


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def secret(rng: random.Random) -> str:
    alnum = string.ascii_letters + string.digits
    rand = lambda n, pool=alnum: "".join(rng.choice(pool) for _ in range(n))  # noqa: E731
    kind = rng.randrange(8)
    if kind == 0:
        return "sk-proj-" + rand(48)
    if kind == 1:
        return "AKIA" + rand(16, string.ascii_uppercase + string.digits)
    if kind == 2:
        return "ghp_" + rand(36)
    if kind == 3:
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64url(json.dumps({"sub": str(rng.randint(1, 10**9)), "iat": rng.randint(1, 2**31)}).encode())
        return f"{header}.{payload}.{_b64url(rng.randbytes(32))}"
    if kind == 4:
        return "sk_live_" + rand(24)
    if kind == 5:
        return rng.randbytes(20).hex()
    if kind == 6:
        return base64.b64encode(rng.randbytes(30)).decode()
    return rand(rng.randint(8, 14), alnum + "!#$%&*") + str(rng.randint(0, 9))  # a password


_TEMPLATES = {
    "card": ["I was charged twice on my card {v}, please check.", "Card number: {v} exp 12/27",
             "My visa {v} was declined at checkout", "Please refund to {v}.", "Meine Karte {v} wurde belastet.",
             "Ma carte bancaire {v} a été débitée deux fois", "{v}"],
    "phone": ["Please call me on {v}.", "My number is {v}, thanks", "Phone: {v}", "You can reach me at {v} after 5pm.",
              "Rufen Sie mich bitte unter {v} an.", "Appelez-moi au {v} s'il vous plaît", "Llámame al {v}",
              "Meu telefone é {v}", "WhatsApp {v}", "call {v} asap, the order is stuck"],
    "email": ["Contact me at {v} please", "My login is {v} and it fails", "email: {v}", "Send the invoice to <{v}>",
              "Bitte an {v} schicken."],
    "iban": ["Please refund to IBAN {v}.", "My account: {v}", "Bankverbindung: {v}", "IBAN: {v} (BIC DEUTDEFF)",
             "virement sur {v} svp"],
    "ssn": ["My SSN is {v}.", "social security number {v}", "SSN: {v} for the tax form", "ssn {v}"],
    "ip": ["Login blocked from IP {v} today", "The server at {v} is unreachable", "my IP is {v}.", "ip={v}"],
    "secret": ["My API key is {v} and it fails", "token: {v}", "password: {v}", "Authorization: Bearer {v}",
               "I pasted {v} by mistake", "api_key={v}", "the secret {v} leaked"],
}
_GENERATORS = {"card": card_number, "email": email_address, "iban": iban, "ssn": ssn, "ip": ip_address,
               "secret": secret}


def positives(rng: random.Random, per_kind: int) -> list[Case]:
    cases = []
    for kind in PII_KINDS:
        for _ in range(per_kind):
            locale = "en"
            if kind == "phone":
                value, locale = phone_number(rng)
            else:
                value = _GENERATORS[kind](rng)
            template = rng.choice(_TEMPLATES[kind])
            if kind == "ssn" and value.isdigit() and "ssn" not in template.lower() and "social" not in template:
                template = "My SSN is {v}."
            if kind == "secret" and template == "I pasted {v} by mistake" and not value.startswith(
                    ("sk-", "AKIA", "ghp_", "sk_live", "eyJ")) and len(value) < 32:
                template = "password: {v}"
            text, survivors = template.format(v=value), ()
            if rng.random() < 0.5:  # mixed tickets: PII next to numbers that must survive
                neg_text, survivor = negative_value(rng)
                text, survivors = (f"{neg_text}. {text}", (survivor,)) if rng.random() < 0.5 else (
                    f"{text} {neg_text}.", (survivor,))
            cases.append(Case(text, kind, value, survivors, locale=locale))
    return cases


# --- hard negatives ------------------------------------------------------------------------------
def _digits(rng: random.Random, n: int, first: str = "") -> str:
    return first + "".join(rng.choice(string.digits) for _ in range(n - len(first)))


def negative_value(rng: random.Random) -> tuple[str, str]:
    """(text, survivor): a number that looks like PII but is not."""
    k = rng.randrange(22)
    if k == 0:
        v = "#" + _digits(rng, 9, rng.choice("123456789"))
        return f"My order {v} has not arrived", v
    if k == 1:
        v = _digits(rng, 15, "1")
        return f"order {v} is missing an item", v
    if k == 2:
        v = _digits(rng, 16, "4")
        return f"order number {v} was cancelled", v
    if k == 3:
        v = f"${rng.randint(1, 99)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}"
        return f"I was charged {v} instead of the quoted price", v
    if k == 4:
        v = f"€{rng.randint(1, 999)},{rng.randint(0, 99):02d}"
        return f"Ich habe {v} bezahlt", v
    if k == 5:
        v = f"{rng.randint(2015, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        return f"Delivery was promised for {v}", v
    if k == 6:
        v = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2015, 2026)}"
        return f"ordered on {v}", v
    if k == 7:
        v = "1Z" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
        return f"UPS tracking {v} shows no movement", v
    if k == 8:
        d = _digits(rng, 22, "94")
        v = " ".join(d[i:i + 4] for i in range(0, 22, 4))
        return f"USPS tracking number {v}", v
    if k == 9:
        v = _digits(rng, 12, rng.choice("3456789"))
        return f"FedEx tracking {v}", v
    if k == 10:
        v = f"{rng.randint(1, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 300)}"
        return f"The app version {v} crashes on start", v
    if k == 11:
        v = f"{rng.randint(1, 12)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}.{rng.randint(0, 9999)}"
        return f"build {v} is broken", v
    if k == 12:
        v = f"INV-{rng.randint(2015, 2026)}-{rng.randint(0, 99999):05d}"
        return f"Invoice {v} is wrong", v
    if k == 13:
        v = f"{rng.randint(10, 23)}:{rng.randint(0, 59):02d}"
        return f"the courier came at {v} but nobody rang", v
    if k == 14:
        v = f"{rng.randint(1, 99)}%"
        return f"the discount of {v} was not applied", v
    if k == 15:
        v = f"978-{rng.randint(0, 9)}-{rng.randint(10, 99)}-{rng.randint(100000, 999999)}-{rng.randint(0, 9)}"
        return f"the book ISBN {v} never shipped", v
    if k == 16:
        v = str(ipaddress.IPv6Address(rng.getrandbits(128)))  # placeholder replaced below
        v = "-".join([rng.randbytes(4).hex(), rng.randbytes(2).hex(), rng.randbytes(2).hex(),
                      rng.randbytes(2).hex(), rng.randbytes(6).hex()])
        return f"request id {v} failed", v
    if k == 17:
        v = f"PO {_digits(rng, 10, '45')}"
        return f"our purchase order {v} is unpaid", v
    if k == 18:
        v = f"case {_digits(rng, 8, '00')}"
        return f"regarding {v}, still waiting", v
    if k == 19:
        v = f"{rng.randint(10000, 99999)}"
        return f"ship to zip code {v} please", v
    if k == 20:
        v = "my password is wrong"
        return f"I keep getting told {v} even after a reset", v
    v = f"{rng.randint(1, 12)} x SKU-{rng.randint(10000, 99999)}-XL"
    return f"I ordered {v} and got the wrong size", v


def negatives(rng: random.Random, n: int) -> list[Case]:
    cases = []
    for _ in range(n):
        parts = [negative_value(rng) for _ in range(rng.randint(1, 3))]
        cases.append(Case(" ".join(t for t, _ in parts), None, None, tuple(s for _, s in parts)))
    return cases


def corpus(seed: int = 0, per_kind: int = 400, n_negative: int = 1500) -> tuple[list[Case], list[Case]]:
    """(positives, negatives); same seed, same corpus."""
    rng = random.Random(seed)
    return positives(rng, per_kind), negatives(rng, n_negative)


def score(cases_pos: list[Case], cases_neg: list[Case], redact_fn) -> dict:
    """Recall per kind, false-positive rate on negatives, and the misses for debugging."""
    hits: dict[str, int] = {k: 0 for k in PII_KINDS}
    totals: dict[str, int] = {k: 0 for k in PII_KINDS}
    misses: list[tuple[str, str, str]] = []
    for case in cases_pos:
        r = redact_fn(case.text)
        totals[case.kind] += 1
        if r.counts.get(case.kind, 0) >= 1 and case.value not in r.text and all(s in r.text for s in case.survivors):
            hits[case.kind] += 1
        else:
            misses.append((case.kind, case.text, r.text))
    fps: list[tuple[str, str]] = []
    for case in cases_neg:
        r = redact_fn(case.text)
        if r.counts or any(s not in r.text for s in case.survivors):
            fps.append((case.text, r.text))
    recall = {k: hits[k] / totals[k] for k in PII_KINDS if totals[k]}
    return {"recall": recall, "fp_rate": len(fps) / max(1, len(cases_neg)), "misses": misses, "false_positives": fps,
            "n_pos": len(cases_pos), "n_neg": len(cases_neg)}
