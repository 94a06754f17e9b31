"""Ticket text -> clean text: the customer's own words, without markup, quotes and signatures.

Helpdesk bodies arrive as HTML (Freshdesk) or plain email text with the whole thread quoted below
the new message. Classifying the quoted history or the signature only adds noise and tokens, so we
keep the first, newest message. Pure: no I/O, no state.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Block-level tags become line breaks so paragraph structure survives tag stripping.
_BLOCK_TAGS = re.compile(r"(?i)<\s*(br|/p|p|/div|div|/li|li|/tr|tr|/h[1-6]|hr|/blockquote)\b[^>]*>")
_DROP_ELEMENTS = re.compile(r"(?is)<\s*(script|style|head|title)\b.*?<\s*/\s*\1\s*>")
_BLOCKQUOTE = re.compile(r"(?is)<\s*blockquote\b.*?<\s*/\s*blockquote\s*>")
_TAG = re.compile(r"(?s)<[^<>]{0,2000}>")
_COMMENT = re.compile(r"(?s)<!--.*?-->")
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
    if _LOOKS_HTML.search(text):
        text = _COMMENT.sub(" ", text)
        text = _DROP_ELEMENTS.sub(" ", text)
        stripped = _BLOCKQUOTE.sub("\n", text)
        if _TAG.sub("", stripped).strip():
            text = stripped
        text = _BLOCK_TAGS.sub("\n", text)
        text = _TAG.sub("", text)
    return html.unescape(text)


def _is_header_block(lines: list[str], i: int) -> bool:
    """An Outlook-style ``From:`` line counts only if ``Sent:``/``Date:``/``To:``/``Subject:`` follow."""
    window = " ".join(lines[i + 1:i + 5]).lower()
    return any(k in window for k in ("sent:", "date:", "to:", "subject:", "gesendet:", "envoyé :", "envoyé:"))


def _cut_quotes_and_signature(lines: list[str]) -> list[str]:
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith(">"):
            # A quoted block ends the new message once something was written above it.
            if any(kept):
                break
            continue
        if any(m.match(line) for m in _REPLY_MARKERS[:-1]):
            break
        if _REPLY_MARKERS[-1].match(line) and _is_header_block(lines, i):
            break
        if any(m.match(line) for m in _SIGNATURE_MARKERS):
            break
        if _CLOSING.match(line) and any(kept) and _rest_is_signature(lines[i + 1:]):
            break
        kept.append(line)
    return kept


def _rest_is_signature(rest: list[str]) -> bool:
    """Up to four short lines (name, role, company, phone) after a closing phrase."""
    content = [ln for ln in rest if ln]
    return len(content) <= 4 and all(len(ln) <= 60 for ln in content)
