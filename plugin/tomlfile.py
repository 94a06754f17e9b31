"""The one TOML writer: read with ``tomlkit`` (comments and layout kept), change, write atomically.

Used for the instance file (``triage install`` secrets, ``triage calibrate --write``'s cascade
threshold), the thresholds in a taxonomy file and new taxonomy files. ``tomlkit`` quotes and
escapes values itself, so no writer builds TOML text by hand, and what is written always parses.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Callable

import tomlkit
from tomlkit import TOMLDocument

from .private_files import FILE_MODE, atomic_write_text


def read_document(path: str | Path) -> TOMLDocument:
    """The file as an editable document; an empty one when the file does not exist yet."""
    p = Path(path)
    return tomlkit.parse(p.read_text("utf-8")) if p.exists() else tomlkit.document()


def write_document(path: str | Path, doc: TOMLDocument, *, mode: int | None = FILE_MODE,
                   validate: Callable[[str], Any] | None = None) -> Path:
    """Write ``doc`` atomically; ``validate(text)`` may raise to refuse it before anything changes."""
    text = tomlkit.dumps(doc)
    tomllib.loads(text)  # never leave a file the readers cannot parse
    if validate is not None:
        validate(text)
    return atomic_write_text(path, text, mode=mode)


def upsert(path: str | Path, values: dict[str, Any], *, mode: int | None = FILE_MODE) -> Path:
    """Set top-level ``key = value`` pairs in ``path``, keeping every other key and comment.

    The default mode is owner-only: the instance file this is used for holds secrets.
    """
    doc = read_document(path)
    for key, value in values.items():
        doc[key] = value
    return write_document(path, doc, mode=mode)
