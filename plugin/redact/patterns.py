"""Pattern + checksum recognisers: secrets, e-mails, IBANs, cards, SSNs, IPs and phone numbers.

Each finder returns character spans. Each validates what it finds (Luhn for cards, mod-97 for IBANs, the ``phonenumbers``
metadata for phones, ``ipaddress`` for IPs) so that order numbers, amounts, dates and tracking
numbers survive: a classifier needs those, and redacting them would hide the ticket's meaning.
Pure: no I/O, no state beyond compiled patterns. Every pattern is linear in the input: no nested
unbounded quantifiers, and the e-mail finder grows outwards from each ``@`` in bounded windows.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from typing import Callable

import phonenumbers

# National phone formats are ambiguous, so we try the regions our customers write from.
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IN", "BR", "ES", "IT", "NL", "AU", "MX")

# Words that say the number next to them is a reference, not personal data.
_REFERENCE_CONTEXT = re.compile(
    r"(?i)\b(order|tracking|track|invoice|inv|ref|reference|ticket|case|confirmation|booking|"
    r"shipment|parcel|package|sku|item|article|transaction|txn|receipt|account|po|request|barcode|ean|"
    r"isbn|serial|model|part|product|customer|member|id)"
    r"(\s*(no\.?|nr\.?|number|num|id|code))?\s*(is|was)?\s*[:#]?\s*$|#\s*$"
)
_CARD_CONTEXT = re.compile(r"(?i)(card|visa|master|amex|american express|discover|credit|debit|\bcc\b|pan|carte|karte|"
                           r"tarjeta|cart[aã]o|refund(?:ed)? to|charged? to|paid with|pay with)")
_PHONE_CONTEXT = re.compile(r"(?i)\b(phone|call|tel|mobile|cell|whatsapp|number|reach|text|sms|fax|contact)")
_STRONG_PHONE_CONTEXT = re.compile(r"(?i)\b(phone|call|tel|mobile|cell|whatsapp|sms|fax)")
_CITATION_CONTEXT = re.compile(r"(?i)(\bcode|\bsection|\bsec\.|\bregs?\.|\br\.|§|\bu\.?s\.?c\.?|\bcfr|\bstat\.|\bart\.)\s*$")
_CURRENCY_AFTER = re.compile(r"\s*(?:[$€£¥₹]|(?i:usd|eur|gbp|inr|brl|dollars?|euros?|pounds?)\b)")
_CURRENCY_BEFORE = re.compile(r"[$€£¥₹]\s*$|(?i:\b(usd|eur|gbp|inr|brl|r\$|rs\.?)\s*)$")


# --- secrets -------------------------------------------------------------------------------------
_TOKEN_PATTERNS = re.compile(
    r"\b(?:"
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}"  # OpenAI / Anthropic keys
    r"|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"  # GitHub
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_\-]{35}"  # Google API key
    r"|eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}"  # JWT
    r")"
)
# A private key block; unterminated (a paste cut short) it runs to the end of the text.
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PRIVATE_KEY_END = re.compile(r"-----END [A-Z ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_BEARER = re.compile(r"(?i)\b(?:bearer|basic)\s+([^\s\"']{8,})")
_CREDENTIAL = re.compile(
    r"(?i)\b(password|passwd|pwd|pw|passcode|pass code|pin|api[ _-]?key|secret|token|access key|"
    r"passwort|kennwort|mot de passe|contraseña|senha)"
    r"(\s*(?::|=)\s*|\s+(?:is|was|ist|est|es|é)\s*:?\s+)([^\s,;]{3,})"
)
_KEYWORD_THEN_TOKEN = re.compile(
    r"(?i)\b(?:password|passwd|passcode|api[ _-]?key|secret|token|credentials?)\s+"
    r"(?=[^\s,;]*\d)(?=[^\s,;]*[A-Za-z])([^\s,;]{8,})"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LONG_BLOB = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{32,}={0,2}(?![A-Za-z0-9+/_\-])")


def find_secrets(text: str) -> list[tuple[int, int]]:
    """API keys in vendor formats, JWTs, bearer tokens, private keys, values after a keyword."""
    spans = [m.span() for m in _TOKEN_PATTERNS.finditer(text)]
    for m in _PRIVATE_KEY.finditer(text):
        end = _PRIVATE_KEY_END.search(text, m.end())
        spans.append((m.start(), end.end() if end else len(text)))
    spans += [m.span(1) for m in _BEARER.finditer(text)]
    for m in _CREDENTIAL.finditer(text):
        value = m.group(3).rstrip(".!?)")
        separator_is_word = m.group(2).strip(" :").lower() in ("is", "was", "ist", "est", "es", "é")
        # "my password is wrong" is a complaint, not a leak: after a word, require a non-word look.
        if separator_is_word and value.isalpha() and (value.islower() or value.isupper()):
            continue
        if value.startswith("[") and value.endswith("]"):
            continue
        spans.append((m.start(3), m.start(3) + len(value)))
    spans += [m.span(1) for m in _KEYWORD_THEN_TOKEN.finditer(text)]
    for m in _LONG_BLOB.finditer(text):
        if _looks_random(m.group(0)) and not _UUID.fullmatch(m.group(0)):  # ids are not secrets
            spans.append(m.span())
    return spans


def _looks_random(s: str) -> bool:
    """High-entropy strings mixing digits and letters (hex digests, base64 keys), not words or numbers."""
    core = s.rstrip("=")
    if core.isdigit() or core.isalpha() or "--" in core:
        return False
    freq = Counter(core)
    entropy = -sum(c / len(core) * math.log2(c / len(core)) for c in freq.values())
    if all(ch in "0123456789abcdefABCDEF" for ch in core):
        return entropy >= 3.0 and sum(ch.isdigit() for ch in core) >= 4
    # Base64-like keys switch case and mix digits constantly; run-together English words
    # (seen in real complaint text) have long lower-case runs.
    longest_lower = max((len(r) for r in re.findall(r"[a-z]+", core)), default=0)
    return (entropy >= 3.8 and longest_lower <= 10 and sum(ch.isdigit() or ch in "+/" for ch in core) >= 2
            and sum(ch.isupper() for ch in core) >= 2 and sum(ch.islower() for ch in core) >= 2)


# --- emails --------------------------------------------------------------------------------------
# Internationalised addresses (RFC 6531) allow letters beyond ASCII on both sides of the @. Matching
# starts at each "@" and looks at most 64 characters left (the local part's limit) and 255 right, so
# a long run of local-part characters without an "@" costs nothing.
_LOCAL_SYMBOLS = frozenset("!#$%&'*+/=?^`{|}~-._")
_DOMAIN = re.compile(r"(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}\b")
MAX_LOCAL_PART = 64


def find_emails(text: str) -> list[tuple[int, int]]:
    """Addresses like ``jane.doe@example.com``; a local part longer than the 64 allowed still goes."""
    spans = []
    at = text.find("@")
    while at != -1:
        start, lo = at, max(0, at - MAX_LOCAL_PART)
        while start > lo and (text[start - 1].isalnum() or text[start - 1] in _LOCAL_SYMBOLS):
            start -= 1
        while start < at and text[start] == ".":
            start += 1
        domain = _DOMAIN.match(text, at + 1, min(len(text), at + 256)) if start < at else None
        if domain:
            spans.append((start, domain.end()))
        at = text.find("@", at + 1)
    return spans


# --- IBANs ---------------------------------------------------------------------------------------
# Lengths per country (SWIFT IBAN registry); a candidate must have exactly this many characters.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31,
    "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}
_IBAN_START = re.compile(r"(?i)\b([A-Z]{2})(\d{2})(?=[ \-]?[A-Z0-9])")


IBAN_MAX = 34


def iban_valid(iban: str, strict_length: bool = True) -> bool:
    """ISO 13616 mod-97 check on a compact IBAN (no spaces).

    ``strict_length=False`` accepts any length from 15 to 34: generators and some banks write
    national formats the registry does not list, and mod-97 alone rejects 96 of 97 random strings.
    """
    iban = iban.upper()
    if not iban.isalnum() or not iban.isascii():
        return False
    if strict_length and len(iban) != IBAN_LENGTHS.get(iban[:2], -1):
        return False
    if not strict_length and not (15 <= len(iban) <= IBAN_MAX and iban[:2] in IBAN_LENGTHS):
        return False
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def find_ibans(text: str) -> list[tuple[int, int]]:
    """IBANs, compact or grouped by spaces or dashes, checked with mod-97."""
    spans = []
    for m in _IBAN_START.finditer(text):
        if m.group(1).upper() not in IBAN_LENGTHS or _UUID.match(text, m.start()):
            continue  # "ba023e0b-2654-…" is a GUID, not a Bosnian IBAN
        chars, ends, i = [m.group(1), m.group(2)], [], m.end()
        while len(chars) - 1 < IBAN_MAX - 3 and i < len(text):
            ch = text[i]
            if ch.isalnum() and ch.isascii():
                chars.append(ch)
                if i + 1 >= len(text) or not text[i + 1].isalnum():
                    ends.append((len("".join(chars)), i + 1))
            elif ch not in " -" or i + 1 >= len(text) or not text[i + 1].isalnum():
                break
            i += 1
        compact = "".join(chars)
        # The registry length first; any group boundary whose prefix passes mod-97 after that.
        want = IBAN_LENGTHS[m.group(1).upper()]
        cut = next((end for n, end in ends if n == want and iban_valid(compact[:n])), None)
        if cut is None:
            cut = next((end for n, end in reversed(ends) if iban_valid(compact[:n], strict_length=False)), None)
        if cut is not None:
            spans.append((m.start(), cut))
    return spans


# --- payment cards -------------------------------------------------------------------------------
_DIGIT_RUN = re.compile(r"(?<![\w\-.,+])\d(?:[ \-]?\d){11,22}(?![\w\-]|[.,]\d)")
# Dotted groups ("4111.1111.1111.1111"): only whole 4-digit groups, so amounts and versions never match.
_DOTTED_CARD = re.compile(r"(?<![\w\-.,+])\d{4}(?:\.\d{4}){2,3}(?:\.\d{1,3})?(?![\w\-]|[.,]\d)")


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) checksum used by every major card scheme."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_brand_ok(d: str) -> bool:
    """Issuer prefix and length must fit a real scheme; random Luhn-valid numbers mostly do not."""
    n = len(d)
    p2, p4 = int(d[:2]), int(d[:4])
    if d[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16  # Mastercard
    if p2 in (34, 37):
        return n == 15  # Amex
    if p2 in (36, 38, 39) or 300 <= int(d[:3]) <= 305:
        return 14 <= n <= 19  # Diners
    if d.startswith(("6011", "65", "62")) or 644 <= int(d[:3]) <= 649:
        return 16 <= n <= 19  # Discover / UnionPay
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19  # JCB
    if p2 == 50 or 56 <= p2 <= 69:
        return 12 <= n <= 19  # Maestro
    return False


def find_cards(text: str) -> list[tuple[int, int]]:
    """Card numbers in any grouping: Luhn-valid, and a known scheme or the word "card" before."""
    spans = []
    for m in (*_DIGIT_RUN.finditer(text), *_DOTTED_CARD.finditer(text)):
        digits = re.sub(r"\D", "", m.group(0))
        if not 12 <= len(digits) <= 19 or not luhn_valid(digits):
            continue
        before = text[max(0, m.start() - 40):m.start()]
        card_word = _CARD_CONTEXT.search(before[-25:])
        if not _card_brand_ok(digits) and not (len(digits) >= 13 and card_word):
            continue
        if len(digits) == 13 and not card_word and m.group(0).isdigit():
            continue  # 13 digits in one run is a barcode (EAN-13) far more often than an old Visa card
        if _REFERENCE_CONTEXT.search(before) and not card_word:
            continue
        spans.append(m.span())
    return spans


# --- social security and other national ids ------------------------------------------------------
_SSN_SEPARATED = re.compile(r"(?<![\w\-.])(?!000|666|9\d\d)(\d{3})([\- ])(?!00)\d{2}\2(?!0000)\d{4}(?![\w\-]|\.\d)")
_SSN_BARE = re.compile(r"(?<![\w\-.])(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4}(?![\w\-]|\.\d)")
_SSN_CONTEXT = re.compile(r"(?i)(ssn|social security|soc\.? sec|tax id|tin)\b[^\n]{0,20}$")
# A national-id keyword right before a value: whatever the country's format, the value is an id.
_ID_CUE = re.compile(
    r"(?i)\b(?:ssn|social security(?:\s+number)?|soc\.?\s*sec\.?|national\s+(?:id|identity|insurance)"
    r"(?:\s+(?:number|no\.?))?|nino|tax\s+(?:id|number|code)|tin|cpf|nir|bsn|dni|nie|nif|codice\s+fiscale|"
    r"steuer-?(?:id|nummer)|identification\s+number|aadhaar|sin|personal\s+(?:id|identity)\s+number)"
    r"(?:\s+(?:is|was))?\s*[:#=]?\s*$")
_ID_VALUE = re.compile(r"[A-Z0-9](?:[A-Z0-9]|[ .\-/](?=[A-Z0-9])){4,24}")  # case-sensitive: stops at words
# Formats specific enough on their own (each with its check where it has one):
_UK_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_IT_CODICE_FISCALE = re.compile(r"\b[A-Z]{6}\d{2}[ABCDEHLMPRST]\d{2}[A-Z]\d{3}[A-Z]\b")
_BR_CPF = re.compile(r"(?<![\d.])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\d.])")
_ES_DNI = re.compile(r"(?<![\w-])\d{8}-?[A-Z](?![\w-])")
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _cpf_valid(digits: str) -> bool:
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    for n in (9, 10):
        total = sum(int(d) * (n + 1 - i) for i, d in enumerate(digits[:n]))
        if (total * 10 % 11) % 10 != int(digits[n]):
            return False
    return True


def find_ssns(text: str) -> list[tuple[int, int]]:
    """US social security numbers (dashed, or any form after an SSN keyword), other countries'
    national ids in their own formats (UK National Insurance number, Italian codice fiscale,
    Brazilian CPF with its check digits, Spanish DNI with its check letter), and any id-shaped value
    right after a national-id keyword ("SSN:", "national insurance number", "CPF", "NIR" …)."""
    spans = []
    for m in _SSN_SEPARATED.finditer(text):
        before = text[max(0, m.start() - 30):m.start()]
        # "555 12 3456" style groups can be phones; the dashed form is unambiguous enough.
        if m.group(2) == " " and not _SSN_CONTEXT.search(before):
            continue
        if _REFERENCE_CONTEXT.search(before) and not _SSN_CONTEXT.search(before):
            continue
        spans.append(m.span())
    for m in _SSN_BARE.finditer(text):
        if _SSN_CONTEXT.search(text[max(0, m.start() - 30):m.start()]):
            spans.append(m.span())
    spans += [m.span() for m in _UK_NINO.finditer(text)]
    spans += [m.span() for m in _IT_CODICE_FISCALE.finditer(text)]
    spans += [m.span() for m in _BR_CPF.finditer(text) if _cpf_valid(re.sub(r"\D", "", m.group(0)))]
    spans += [m.span() for m in _ES_DNI.finditer(text)
              if _DNI_LETTERS[int(m.group(0)[:8]) % 23] == m.group(0)[-1]]
    for m in _ID_VALUE.finditer(text):
        if sum(ch.isdigit() for ch in m.group(0)) >= 5 and _ID_CUE.search(text[max(0, m.start() - 45):m.start()]):
            spans.append(m.span())
    return spans


# --- IP addresses --------------------------------------------------------------------------------
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%\w+)?(?![\w:])")
_VERSION_CONTEXT = re.compile(r"(?i)\b(version|ver\.?|v|build|release|firmware|app|ios|android)\s*$")


def find_ips(text: str) -> list[tuple[int, int]]:
    """IPv4 and IPv6 addresses (validated by ``ipaddress``), not version numbers."""
    spans = []
    for m in _IPV4.finditer(text):
        if _VERSION_CONTEXT.search(text[max(0, m.start() - 12):m.start()]):
            continue
        try:
            ipaddress.IPv4Address(m.group(0))
        except ValueError:
            continue
        spans.append(m.span())
    for m in _IPV6.finditer(text):
        cand = m.group(0)
        if cand.count(":") < 2 or not re.search(r"[0-9A-Fa-f]", cand):
            continue
        try:
            ipaddress.IPv6Address(cand.split("%")[0])
        except ValueError:
            continue
        spans.append(m.span())
    return spans


# --- phone numbers -------------------------------------------------------------------------------
# Cheap pre-filter: only digit clusters that could be a phone go through phonenumbers.
_PHONE_CANDIDATE = re.compile(r"(?:\+|\b00|\()?\d[\d \t().\-/]{3,}\d")
MAX_PHONE_DIGITS = 15  # E.164; longer unbroken digit groups are tracking or account numbers
MIN_CUED_DIGITS = 5  # a short local number ("call 413 4270", "21 12 34 office") counts only with a cue
# A cue right before the number says it is a phone number whatever its shape: "call me at",
# "Mobile:", "not answering at", "messages to", "my registered …". Anchored at the number, so
# "call me about order 12345" is no cue for 12345.
_CUE_BEFORE = re.compile(
    r"(?i)\b(?:call(?:ed|ing)?(?:\s+(?:me|us|back))?(?:\s+(?:at|on))?|phone(?:\s+(?:number|no\.?))?|"
    r"tel(?:ephone)?|mobile|cell(?:phone)?|whatsapp|sms|fax|desk|landline|"
    r"text\s+(?:me|us)(?:\s+(?:at|on))?|reach\s+(?:me|us)\s+(?:at|on)|answering\s+(?:at|on)|"
    r"messages?\s+to|registered(?:\s+(?:mobile|phone|number))?)\s*[:.]?\s*$")
# ... or right after it: "-Office", " fax", " (mobile)".
_CUE_AFTER = re.compile(r"(?i)\s?[-–(]?\s?(?:office|fax|mobile|cell|phone|tel|desk)\b")
_EXTENSION = re.compile(r"(?i)\s?(?:x|ext\.?|extension)\s?\d{1,6}\b")


def find_phones(text: str, regions: tuple[str, ...]) -> list[tuple[int, int]]:
    """Phone numbers: what ``phonenumbers`` finds for the regions (any region after ``+``), digit
    groups shaped like a phone number (``(54) 2786-3164``, ``9135 8202``) from anywhere, and any
    5–15 digit number that a phone cue stands right next to; each with its extension (``x7345``)."""
    spans: list[tuple[int, int]] = []
    for cand in _PHONE_CANDIDATE.finditer(text):
        raw = cand.group(0)
        n_digits = sum(ch.isdigit() for ch in raw)
        if n_digits < MIN_CUED_DIGITS or n_digits > MAX_PHONE_DIGITS + (4 if "+" in raw else 2):
            continue
        cued = _phone_cued(text, cand.start(), cand.end())
        if n_digits < 7 and not cued:
            continue
        found: set[tuple[int, int]] = set()
        if n_digits >= 7:
            lo, hi = max(0, cand.start() - 1), min(len(text), cand.end() + 1)
            window = text[lo:hi]
            for region in regions if not raw.startswith("+") else regions[:1]:
                for match in phonenumbers.PhoneNumberMatcher(window, region):
                    found.add((lo + match.start, lo + match.end))
        if not found and (cued or _phone_shaped(text, cand.start(), cand.end())):
            found.add(cand.span())
        for start, end in found:
            if _phone_plausible(text, start, end, cued=cued):
                ext = _EXTENSION.match(text, end)
                spans.append((start, ext.end() if ext else end))
    return spans


def _phone_cued(text: str, start: int, end: int) -> bool:
    return bool(_CUE_BEFORE.search(text[max(0, start - 40):start]) or _CUE_AFTER.match(text, end))


_GROUPS = re.compile(r"\d+")
_DATE_SHAPE = re.compile(r"\(?\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}\)?")
_THOUSANDS_SHAPE = re.compile(r"\d{1,3}(?:([ .,])\d{3})(?:\1\d{3})*")


def _phone_shaped(text: str, start: int, end: int) -> bool:
    """Two to six short digit groups split by spaces, dashes, dots or brackets, not a date or an
    amount written with thousands separators (those only after a word like "call" or "phone")."""
    raw = text[start:end]
    groups = _GROUPS.findall(raw)
    if not 2 <= len(groups) <= 6 or max(len(g) for g in groups) > 6 or "/" in raw:
        return False
    if _DATE_SHAPE.fullmatch(raw) or _is_isbn(raw):
        return False
    if len(groups) == 2 and (len(groups[1]) < 4 or len(groups[0]) + len(groups[1]) < 8):
        return False  # postcodes such as 95010-520 or 5000-047
    before = text[max(0, start - 40):start]
    if sum(map(len, groups)) > MAX_PHONE_DIGITS or _CARD_CONTEXT.search(before[-25:]):
        return False  # a card number that failed Luhn is not a phone number either
    if _THOUSANDS_SHAPE.fullmatch(raw) and not _PHONE_CONTEXT.search(before):
        return False
    return True


def _is_isbn(raw: str) -> bool:
    digits = re.sub(r"\D", "", raw)
    if len(digits) != 13 or not digits.startswith(("978", "979")):
        return False
    return sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10 == 0


def _phone_plausible(text: str, start: int, end: int, *, cued: bool = False) -> bool:
    """Reject matches that read as references or money: ``#123456789``, ``order 1135...``, ``$1200``.
    ``cued``: a phone cue stands right next to it (an unformatted digit run is then a phone too)."""
    raw = text[start:end]
    glued_after = re.match(r"-?[A-Za-z0-9]", text[end:end + 2]) and not (
        _CUE_AFTER.match(text, end) or _EXTENSION.match(text, end))  # "…-Office", "…x7345" are fine
    if (glued_after or (start and text[start - 1].isalnum())
            or re.search(r"[A-Za-z0-9][\-_/]$", text[max(0, start - 2):start])):
        return False  # part of a longer token such as a UUID, an SKU or INV-2021-77224
    if _DATE_SHAPE.fullmatch(raw) or _CURRENCY_AFTER.match(text, end):
        return False
    before = text[max(0, start - 40):start]
    if (_CURRENCY_BEFORE.search(before) or _VERSION_CONTEXT.search(before[-12:])
            or _CITATION_CONTEXT.search(before[-20:])):
        return False
    if _REFERENCE_CONTEXT.search(before) and not _STRONG_PHONE_CONTEXT.search(before[-25:]):
        return False
    if re.fullmatch(r"\d{12,}", raw) and not _STRONG_PHONE_CONTEXT.search(before[-25:]):
        return False  # a dozen digits in one run is an id or a barcode, unless "call"/"phone" says so
    if (not raw.startswith(("+", "(", "0")) and re.fullmatch(r"\d+", raw) and not cued
            and not _PHONE_CONTEXT.search(before)):
        # An unformatted run of digits without a leading 0/+ and no "call me" nearby is more
        # likely an id than a phone number.
        return False
    return True


# The finders that need nothing but the text, by entity type (phones take the regions too).
FINDERS: dict[str, Callable[[str], list[tuple[int, int]]]] = {
    "secret": find_secrets,
    "email": find_emails,
    "iban": find_ibans,
    "card": find_cards,
    "ssn": find_ssns,
    "ip": find_ips,
}
