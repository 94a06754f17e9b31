"""Ticket text -> clean text: the customer's own words, without markup, quotes and signatures.

Helpdesk bodies arrive as HTML (Freshdesk) or plain email text with the whole thread quoted below
the new message. Classifying the quoted history or the signature only adds noise and tokens, so we
keep the first, newest message. HTML goes through a real parser (selectolax, the Lexbor engine),
which is linear on unclosed tags and comments; nothing here backtracks. Pure: no I/O, no state.
"""

from __future__ import annotations

import html
import re
import unicodedata

from selectolax.lexbor import LexborHTMLParser

# Elements whose end is a line break, so paragraph structure survives; and elements with no text.
_BLOCK_ELEMENTS = "br,p,div,li,tr,h1,h2,h3,h4,h5,h6,hr,blockquote,table,ul,ol,pre"
_DROP_ELEMENTS = "script,style,head,title,template,noscript"
# Raw characters read at most: the token budget keeps a few KB, so a 10 MB paste is cut here first.
MAX_INPUT_CHARS = 256 * 1024
# When the raw text was cut, this many characters at the end of the clean text are dropped too: a
# value split by the cut (half an e-mail address) lies within them, and must not go out half.
CUT_TAIL_CHARS = 1024
_LOOKS_HTML = re.compile(r"(?i)<\s*/?\s*(p|br|div|span|a|b|i|strong|em|ul|ol|li|table|html|body|blockquote|font|img|h[1-6])\b")

# Lines that start the quoted history of an email thread; everything from there on is dropped.
_REPLY_MARKERS = [
    re.compile(r"(?i)^\s*on\s.{0,200}\bwrote:\s*$"),  # Gmail / Apple Mail
    re.compile(r"(?i)^\s*am\s.{0,200}\bschrieb.{0,60}:\s*$"),  # German clients
    re.compile(r"(?i)^\s*le\s.{0,200}\ba\s+écrit\s*:\s*$"),  # French clients
    re.compile(r"(?i)^\s*-{2,}\s*(original message|forwarded message|ursprüngliche nachricht)\s*-{2,}\s*$"),
    re.compile(r"^\s*_{8,}\s*$"),  # Outlook separator line
    re.compile(r"(?i)^\s*(from|von|de)\s*:\s*.+$"),  # Outlook header block, checked with _is_header_block
]
_SIGNATURE_MARKERS = [
    re.compile(r"^--\s*$"),  # RFC 3676 "-- " delimiter (trailing space often lost)
    re.compile(r"(?i)^\s*sent from my (iphone|ipad|android|samsung|galaxy|mobile|phone|blackberry)\b.*$"),
    re.compile(r"(?i)^\s*(get outlook for (ios|android)|sent from (mail|outlook) for windows).*$"),
]
# A closing phrase followed by at most a few short lines (name, title, company) is a signature.
_CLOSING = re.compile(
    r"(?i)^\s*(best|kind|warm)?\s*(regards|wishes)\s*,?\s*$|^\s*(thanks|thank you|many thanks|cheers|"
    r"sincerely|yours sincerely|yours truly|best|mit freundlichen grüßen|cordialement)\s*[,!.]?\s*$"
)
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_bounded(text: str) -> tuple[str, bool]:
    """``normalize`` of at most ``MAX_INPUT_CHARS`` raw characters; True when something was cut."""
    if len(text) <= MAX_INPUT_CHARS:
        return normalize(text), False
    clean = normalize(text[:MAX_INPUT_CHARS])
    return clean[:max(0, len(clean) - CUT_TAIL_CHARS)], True


def normalize(text: str) -> str:
    """Return the newest message of a ticket body as clean plain text.

    Steps: HTML to text (tags, entities, quoted ``<blockquote>``), Unicode NFKC, control and
    zero-width characters removed, quoted replies and signatures cut, whitespace collapsed.
    If cutting would leave nothing (e.g. a ticket that is only a forwarded mail), the uncut text
    is kept, since some text beats none for classification.

    Args:
        text: raw ticket body, plain text or HTML.

    Returns:
        Normalised text; paragraphs are separated by one blank line at most.
    """
    if not text:
        return ""
    if _LOOKS_HTML.search(text) or "&" in text:
        text = _html_to_text(text)
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", ln).strip() for ln in text.split("\n")]
    kept = _cut_quotes_and_signature(lines)
    if not any(kept):
        kept = [ln for ln in lines if not ln.startswith(">")] or lines
    out = "\n".join(kept).strip()
    return _BLANK_LINES.sub("\n\n", out)


def _html_to_text(text: str) -> str:
    """Strip markup; quoted history in ``<blockquote>`` is dropped (it is the previous messages)."""
    if not _LOOKS_HTML.search(text):
        return html.unescape(text)
    without_quotes = _parse_to_text(text, drop_quotes=True)
    return without_quotes if without_quotes.strip() else _parse_to_text(text, drop_quotes=False)


def _parse_to_text(markup: str, drop_quotes: bool) -> str:
    tree = LexborHTMLParser(markup)
    for node in tree.css(_DROP_ELEMENTS + (",blockquote" if drop_quotes else "")):
        node.decompose()
    for node in tree.css(_BLOCK_ELEMENTS):
        node.insert_after("\n")
    root = tree.body or tree.root
    return root.text(separator="") if root is not None else ""


def _is_header_block(lines: list[str], i: int) -> bool:
    """An Outlook-style ``From:`` line counts only if ``Sent:``/``Date:``/``To:``/``Subject:`` follow."""
    window = " ".join(lines[i + 1:i + 5]).lower()
    return any(k in window for k in ("sent:", "date:", "to:", "subject:", "gesendet:", "envoyé :", "envoyé:"))


def _cut_quotes_and_signature(lines: list[str]) -> list[str]:
    kept: list[str] = []
    has_text = False  # kept holds a non-empty line (a flag, so the loop stays linear)
    for i, line in enumerate(lines):
        if line.startswith(">"):
            # A quoted block ends the new message once something was written above it.
            if has_text:
                break
            continue
        if any(m.match(line) for m in _REPLY_MARKERS[:-1]):
            break
        if _REPLY_MARKERS[-1].match(line) and _is_header_block(lines, i):
            break
        if any(m.match(line) for m in _SIGNATURE_MARKERS):
            break
        if _CLOSING.match(line) and has_text and _rest_is_signature(lines, i + 1):
            break
        kept.append(line)
        has_text = has_text or bool(line)
    return kept


def _rest_is_signature(lines: list[str], start: int) -> bool:
    """Up to four short lines (name, role, company, phone) after a closing phrase."""
    content = 0
    for j in range(start, len(lines)):  # stops at the fifth line of content: many "Thanks" lines stay linear
        ln = lines[j]
        if ln:
            content += 1
            if content > 4 or len(ln) > 60:
                return False
    return True
