"""Assemble a PII evaluation set from public material that this project did not write.

Sources (each case names its own in ``source``):

- ``presidio``: the 209 sentence templates of Microsoft's presidio-evaluator 0.3.2 (MIT, PyPI
  wheel ``presidio_evaluator/data_generator/raw_data/templates.txt``), filled with the 3,000 person
  records of FakeNameGenerator.com that ship in the same wheel (names from ~30 name sets,
  addresses and phone numbers written the way each country writes them, e-mails, passwords);
  values the records lack (cards, IBANs, SSNs, IPs) come from Faker.
- ``faker``: the same templates filled by Faker (joke2k/faker, MIT) in 11 locales: each
  locale's own phone, address, IBAN, name and e-mail formats, written by Faker's contributors.
- ``libphonenumber``: the example numbers Google's libphonenumber metadata gives for every region
  (``phonenumbers``, Apache-2.0), mobile and fixed line, in national and international format,
  in the presidio phone templates.
- ``bitext``: Bitext customer-support utterances (CDLA-Sharing-1.0, ``../shared/data``) with their
  labelled ``person_name`` spans (positives, also with the name swapped for a record's name), and
  their ``order_id`` / ``invoice_id`` / ``refund_amount`` spans (negatives: must survive).
- ``secrets`` (ours, the one generated input): vendor key formats (AWS's documented example keys,
  jwt.io's example token, GitHub/Stripe/Slack/OpenAI/Google prefixes with random bodies), passwords
  from the FakeNameGenerator records and Faker after a keyword, bearer tokens, PEM private keys,
  in a dozen hand-written sentences.
- negatives (``negative``): GUIDs, dates, prices, versions, EAN-13/ISBN-13 codes, UPS/USPS
  tracking numbers and order numbers from Faker, in hand-written sentences, plus the Bitext ones.

The presidio-evaluator wheel is fetched once with ``pip download`` into a cache folder (a package
registry is the only network this project uses); nothing from it is committed except the small
sample that ``--write-sample`` makes for the tests.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import subprocess
import sys
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from plugin.redact import PLACEHOLDER

EVALUATOR = "presidio-evaluator==0.3.2"
CACHE = Path(os.environ.get("TRIAGE_PII_EVAL_CACHE", Path.home() / ".cache" / "helpdesk-triage" / "pii-eval"))
FAKER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "en_IN", "en_AU", "en_CA")
# Template placeholders that are personal data, by the entity type they count as.
PII_SLOTS = {
    "person": "person", "name": "person", "name_male": "person", "name_female": "person",
    "first_name": "person", "last_name": "person", "first_name_male": "person", "first_name_female": "person",
    "last_name_male": "person", "last_name_female": "person", "first_name_nonbinary": "person",
    "address": "address", "street_name": "address", "building_number": "address",
    "phone_number": "phone", "credit_card_number": "card", "iban": "iban", "ssn": "ssn",
    "email": "email", "ip_address": "ip",
}


@dataclass
class Case:
    """One line of text; ``entities`` must be redacted, ``keep`` must survive untouched."""

    text: str
    source: str
    entities: list[dict] = field(default_factory=list)  # {"type", "value"}
    keep: list[str] = field(default_factory=list)


# --- fetching the public material ----------------------------------------------------------------
def evaluator_files() -> tuple[list[str], list[dict]]:
    """presidio-evaluator's templates and FakeNameGenerator records (downloaded once)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob("presidio_evaluator-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", EVALUATOR, "-d", str(CACHE)],
                       check=True)
        wheels = sorted(CACHE.glob("presidio_evaluator-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as z:
        raw = "presidio_evaluator/data_generator/raw_data/"
        templates = [t.strip().replace("\\n", "\n") for t in z.read(raw + "templates.txt").decode("utf-8", "replace").splitlines()
                     if t.strip()]
        text = z.read(raw + "FakeNameGenerator.com_3000.csv").decode("utf-8-sig")
    records = list(csv.DictReader(io.StringIO(text)))
    return templates, records


# --- filling templates ---------------------------------------------------------------------------
_SLOT = re.compile(r"\{\{(\w+)\}\}")


def _fill(template: str, values: dict[str, str], source: str) -> Case | None:
    entities, out, last = [], [], 0
    for m in _SLOT.finditer(template):
        slot = m.group(1)
        if slot not in values:
            return None
        out.append(template[last:m.start()])
        out.append(values[slot])
        if slot in PII_SLOTS:
            entities.append({"type": PII_SLOTS[slot], "value": values[slot]})
        last = m.end()
    out.append(template[last:])
    return Case("".join(out), source, entities)


def _try(fake, method: str, fallback: str) -> str:
    """Faker's providers differ per locale; use the locale's own value where it has one."""
    try:
        return str(getattr(fake, method)())
    except AttributeError:
        return fallback


def _record_values(rec: dict, fake, rng: random.Random) -> dict[str, str]:
    """Slot values from one FakeNameGenerator record; Faker for what the record lacks."""
    first, last = rec["GivenName"], rec["Surname"]
    street = rec["StreetAddress"]
    number = (re.findall(r"\d+", street) or [str(rng.randint(1, 999))])[0]
    street_name = re.sub(r"\s*\d+\s*", " ", street).strip(" ,") or fake.street_name()
    address = f"{street}, {rec['City']}, {rec['State']} {rec['ZipCode']}".replace(" ,", ",")
    name = f"{first} {last}"
    return {
        "person": name, "name": name, "name_male": name, "name_female": name, "first_name": first,
        "last_name": last, "first_name_male": first, "first_name_female": first, "last_name_male": last,
        "last_name_female": last, "first_name_nonbinary": first, "prefix": rec["Title"],
        "prefix_male": rec["Title"], "prefix_female": rec["Title"], "address": address,
        "street_name": street_name, "building_number": number, "city": rec["City"],
        "country": rec["CountryFull"], "state_abbr": rec["State"], "postcode": rec["ZipCode"],
        "zipcode": rec["ZipCode"], "secondary_address": _try(fake, "secondary_address", f"Apt. {rng.randint(1, 99)}"),
        "phone_number": rec["TelephoneNumber"], "email": rec["EmailAddress"],
        "credit_card_number": fake.credit_card_number(), "iban": _try(fake, "iban", "DE89370400440532013000"), "ssn": _try(fake, "ssn", ""),
        "ip_address": fake.ipv4() if rng.random() < 0.7 else fake.ipv6(), "organization": rec["Company"],
        "age": rec["Age"], "year": str(rng.randint(1990, 2025)), "nationality": fake.country(),
        "nation_woman": "French", "nation_plural": "French", "job": rec["Occupation"],
        "date_time": fake.date(), "date_of_birth": rec["Birthday"], "url": f"https://{rec['Domain']}",
        "day_of_week": fake.day_of_week(), "us_driver_license": fake.bothify("?#######").upper(),
        "religion": "Buddhist",
    }


def _faker_values(fake, rng: random.Random) -> dict[str, str]:
    first, last = fake.first_name(), fake.last_name()
    values = {k: v for k, v in _record_values({
        "GivenName": first, "Surname": last, "StreetAddress": fake.street_address(), "City": fake.city(),
        "State": "", "ZipCode": fake.postcode(), "CountryFull": _try(fake, "current_country", ""), "TelephoneNumber": fake.phone_number(),
        "EmailAddress": fake.email(), "Company": fake.company(), "Age": str(rng.randint(18, 90)),
        "Occupation": fake.job(), "Birthday": fake.date(), "Domain": fake.domain_name(), "Title": fake.prefix(),
    }, fake, rng).items()}
    values["address"] = fake.address().replace("\n", ", ")
    values["person"] = values["name"] = f"{first} {last}"
    return values


def presidio_cases(templates: list[str], records: list[dict], rng: random.Random) -> list[Case]:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(rng.randint(0, 1 << 30))
    cases = []
    for rec in records:
        template = rng.choice(templates)
        case = _fill(template, _record_values(rec, fake, rng), "presidio")
        if case and case.entities:
            cases.append(case)
    return cases


def faker_cases(templates: list[str], rng: random.Random, per_locale: int) -> list[Case]:
    from faker import Faker

    cases = []
    for locale in FAKER_LOCALES:
        fake = Faker(locale)
        fake.seed_instance(rng.randint(0, 1 << 30))
        made = 0
        while made < per_locale:
            case = _fill(rng.choice(templates), _faker_values(fake, rng), f"faker:{locale}")
            if case and case.entities:
                cases.append(case)
                made += 1
    return cases


def libphonenumber_cases(templates: list[str], rng: random.Random) -> list[Case]:
    import phonenumbers
    from phonenumbers import PhoneNumberFormat as F, PhoneNumberType as T

    phone_templates = [t for t in templates if "{{phone_number}}" in t]
    cases = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (T.MOBILE, T.FIXED_LINE):
            num = phonenumbers.example_number_for_type(region, kind)
            if num is None:
                continue
            for fmt, label in ((F.INTERNATIONAL, "international"), (F.NATIONAL, "national")):
                value = phonenumbers.format_number(num, fmt)
                t = rng.choice(phone_templates)
                case = _fill(t, {"phone_number": value}, f"libphonenumber:{label}")
                if case:
                    case.entities[0]["region"] = region
                    cases.append(case)
    return cases


def bitext_cases(data: Path, records: list[dict], rng: random.Random) -> list[Case]:
    cases = []
    folder = data / "bitext-customer-support"
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                text, kind, value = row["utterance"], row["entity_type"], row["entity_value"]
                if kind == "person_name" and value:
                    name = re.sub(r"^(Mr|Ms|Mrs|Dr)\.?\s+", "", value)
                    cases.append(Case(text, "bitext", [{"type": "person", "value": name}]))
                    rec = rng.choice(records)
                    swapped = f"{rec['GivenName']} {rec['Surname']}"
                    cases.append(Case(text.replace(name, swapped), "bitext:swapped",
                                      [{"type": "person", "value": swapped}]))
                elif kind in ("order_id", "invoice_id", "refund_amount") and value:
                    cases.append(Case(text, "bitext:negative", keep=[value]))
    return cases


_SECRET_CONTEXTS = [
    "my api key is {v} but it stopped working yesterday",
    "Here is the token we use in production: {v}",
    "password: {v}",
    "The new password is {v} please reset it",
    "login failed with user admin and pwd={v}",
    "curl -H 'Authorization: Bearer {v}' https://api.example.com/v1/items returns 401",
    "We rotated the key ({v}) and webhooks still fail",
    "env: SECRET_KEY={v}",
    "I pasted my credentials: {v}",
    "Our integration sends {v} as the access token",
    "Passwort: {v}",
    "Here is the private key from the server, is it wrong?\n{v}",
]


def secret_cases(records: list[dict], rng: random.Random, n: int) -> list[Case]:
    from faker import Faker

    fake = Faker()
    fake.seed_instance(rng.randint(0, 1 << 30))
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

    def rand(k: int, chars: str = alnum) -> str:
        return "".join(rng.choice(chars) for _ in range(k))

    def pem() -> str:
        body = "\n".join(rand(64, alnum + "+/") for _ in range(rng.randint(4, 12)))
        return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"

    makers = {
        "aws": lambda: rng.choice(["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                   "AKIA" + rand(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")]),
        "jwt": lambda: rng.choice([
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
            "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoi" + rand(24) + "In0." + rand(43, alnum + "-_")]),
        "github": lambda: "ghp_" + rand(36),
        "stripe": lambda: rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + rand(24),
        "slack": lambda: f"xoxb-{rand(11, '0123456789')}-{rand(12, '0123456789')}-{rand(24)}",
        "openai": lambda: "sk-proj-" + rand(48, alnum + "-_"),
        "google": lambda: "AIza" + rand(35, alnum + "-_"),
        "password": lambda: rng.choice(records)["Password"] if rng.random() < 0.5 else fake.password(length=12),
        "hex": lambda: fake.sha256(),
        "pem": pem,
    }
    cases = []
    for i in range(n):
        kind = list(makers)[i % len(makers)]
        value = makers[kind]()
        contexts = _SECRET_CONTEXTS[-1:] if kind == "pem" else _SECRET_CONTEXTS[:-1]
        text = rng.choice(contexts).format(v=value)
        cases.append(Case(text, f"secrets:{kind}", [{"type": "secret", "value": value}]))
    return cases


_NEGATIVE_CONTEXTS = [
    "Order {v} has not arrived yet, can you check?",
    "Invoice {v} shows the wrong total",
    "The app crashes since version {v}",
    "I was charged {v} twice this month",
    "Tracking number {v} says delivered but nothing came",
    "Request id {v} failed with error 500",
    "Booked on {v}, still no confirmation",
    "Barcode {v} on the box does not match",
    "My reference is {v}",
]


def negative_cases(rng: random.Random, n: int) -> list[Case]:
    from faker import Faker

    fake = Faker()
    fake.seed_instance(rng.randint(0, 1 << 30))
    makers = [
        lambda: fake.uuid4(), lambda: fake.date(), lambda: fake.date(pattern="%d.%m.%Y"),
        lambda: fake.pricetag(), lambda: f"{rng.randint(1, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
        lambda: fake.ean13(), lambda: fake.isbn13(), lambda: "1Z" + fake.bothify("???#########").upper(),
        lambda: fake.numerify("94001#################"), lambda: fake.numerify("#########"),
        lambda: fake.numerify("ORD-######"), lambda: fake.numerify("#######"),
    ]
    cases = []
    for i in range(n):
        value = makers[i % len(makers)]()
        cases.append(Case(rng.choice(_NEGATIVE_CONTEXTS).format(v=value), "negative", keep=[value]))
    return cases


def build(data: Path, seed: int = 7, per_locale: int = 150, secrets: int = 600, negatives: int = 1200) -> list[Case]:
    """The whole evaluation set, deterministic for a seed."""
    rng = random.Random(seed)
    templates, records = evaluator_files()
    return (presidio_cases(templates, records, rng) + faker_cases(templates, rng, per_locale)
            + libphonenumber_cases(templates, rng) + bitext_cases(data, records, rng)
            + secret_cases(records, rng, secrets) + negative_cases(rng, negatives))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--write-sample", type=Path, help="write a small stratified sample (JSONL) for the tests")
    ap.add_argument("--per-source", type=int, default=40)
    args = ap.parse_args()
    cases = build(args.data, args.seed)
    if not args.write_sample:
        by = {}
        for c in cases:
            by[c.source] = by.get(c.source, 0) + 1
        print(json.dumps(by, indent=1))
        return
    rng = random.Random(args.seed)
    by_source: dict[str, list[Case]] = {}
    for c in cases:
        kind = c.entities[0]["type"] if c.entities else "negative"
        by_source.setdefault(f'{c.source.split(":")[0]}:{kind}', []).append(c)
    sample = [c for group in by_source.values() for c in rng.sample(group, min(args.per_source, len(group)))]
    with args.write_sample.open("w", encoding="utf-8") as f:
        for c in sample:
            f.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
    print(f"wrote {len(sample)} cases to {args.write_sample}")


if __name__ == "__main__":
    main()


# --- scoring -------------------------------------------------------------------------------------
# Words that carry no identity on their own: a left-over "Street" or "Mr." is no leak.
_GENERIC = {
    "street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "drive", "dr", "box", "p.o", "po", "apt",
    "suite", "unit", "floor", "court", "ct", "place", "pl", "way", "blvd", "boulevard", "mr", "mrs", "ms",
    "miss", "dr.", "prof", "the", "and", "van", "von", "de", "la", "le", "del", "der", "di", "da", "du",
    "rue", "via", "calle", "strasse", "straße", "str", "avenida", "rua", "weg", "laan", "plein", "flat",
}


def pieces(entity_type: str, value: str) -> list[str]:
    """Fragments of a value that must not survive: the whole value, and each identifying part.

    Numbers: every digit group of 4+ (a card's 4-digit block, a phone's last digits); e-mails: the
    local part; names and addresses: each word of 3+ letters that is not a generic word.
    """
    out = [value]
    if entity_type == "email":
        out.append(value.split("@")[0])
    elif entity_type in ("person", "address"):
        out += [w for w in re.findall(r"[^\W_]{3,}", value) if w.lower() not in _GENERIC and not w.isdigit()]
        out += re.findall(r"\d{3,}", value)
    else:
        out += re.findall(r"\d{4,}", value)
        out += [w for w in re.findall(r"[A-Za-z0-9+/_\-]{8,}", value)]
    return [p for p in out if p]


def leaked(case_entity: dict, output: str) -> list[str]:
    """The fragments of one entity still present in the redacted output (empty: caught)."""
    kind = case_entity["type"]
    output = PLACEHOLDER.sub(" ", output)  # "[ADDRESS_1]" does not leak a house number "1"
    left = []
    for p in pieces(kind, case_entity["value"]):
        if kind in ("person", "address"):
            if re.search(rf"(?<![^\W_]){re.escape(p)}(?![^\W_])", output):
                left.append(p)
        elif p in output:
            left.append(p)
    return left


def kept(case: Case, output: str) -> bool:
    """A negative is kept when the line comes back untouched."""
    return output == case.text


@dataclass
class Score:
    """Caught / total per (entity type, source prefix), with ``"all"`` as the source for the total."""

    counts: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    negatives: int = 0
    negatives_kept: int = 0
    leaks: list[tuple[str, str, str, list[str]]] = field(default_factory=list)

    def recall(self, kind: str, source: str = "all") -> float:
        ok, n = self.counts.get((kind, source), (0, 0))
        return ok / n if n else 0.0

    def total(self, kind: str) -> int:
        return self.counts.get((kind, "all"), (0, 0))[1]

    @property
    def kept_share(self) -> float:
        return self.negatives_kept / max(1, self.negatives)


def score(cases: list[Case], redact_fn) -> Score:
    """Run ``redact_fn(text) -> Redaction`` over the cases and count what was caught and kept."""
    result = Score()
    for case in cases:
        out = redact_fn(case.text).text
        if not case.entities:
            result.negatives += 1
            result.negatives_kept += kept(case, out)
        for entity in case.entities:
            left = leaked(entity, out)
            for key in ((entity["type"], "all"), (entity["type"], case.source.split(":")[0])):
                tally = result.counts.setdefault(key, [0, 0])
                tally[0] += not left
                tally[1] += 1
            if left:
                result.leaks.append((entity["type"], case.text, out, left))
    return result
