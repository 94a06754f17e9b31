"""The admin's categories, descriptions, examples and thresholds: load and validate.

The file is TOML (see ``plugin/defaults/taxonomy.toml``). Errors name the field and the line so
an admin can fix the file without reading a traceback.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

import tomlkit
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from .exceptions import TaxonomyError

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,47}$"
DEFAULT_TAXONOMY = "default"


class Thresholds(BaseModel):
    """Decision thresholds: score >= auto_apply auto-applies, >= suggest suggests, else review."""

    auto_apply: float = Field(0.85, ge=0.0, le=1.0)
    suggest: float = Field(0.6, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        if self.suggest > self.auto_apply:
            raise ValueError("suggest must be <= auto_apply")
        return self


class Category(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)
    auto_apply: bool = True
    source_labels: list[str] = Field(default_factory=list)


class Taxonomy(BaseModel):
    """A validated taxonomy. ``names`` keeps file order, which is also the prompt order."""

    version: str = "1"
    other: str = "other"
    thresholds: Thresholds = Field(default_factory=Thresholds)
    categories: list[Category] = Field(min_length=2)

    @field_validator("categories")
    @classmethod
    def _unique(cls, categories: list[Category]) -> list[Category]:
        seen: set[str] = set()
        for c in categories:
            if c.name in seen:
                raise ValueError(f"duplicate category name {c.name!r}")
            seen.add(c.name)
        return categories

    @model_validator(mode="after")
    def _other_exists(self) -> "Taxonomy":
        if self.other not in self.names:
            raise ValueError(f"`other` names {self.other!r}, which is not a category")
        return self

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.categories]

    def get(self, name: str) -> Category:
        for c in self.categories:
            if c.name == name:
                return c
        raise KeyError(name)

    def label_for_source(self, source_label: str) -> str | None:
        """Map a dataset label (e.g. Bitext ``PAYMENT``) to a category name, or None."""
        for c in self.categories:
            if source_label in c.source_labels:
                return c.name
        return None


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load and validate a taxonomy file; ``None`` or ``"default"`` loads the bundled one."""
    if path is None or str(path) == DEFAULT_TAXONOMY:
        text = resources.files("plugin.defaults").joinpath("taxonomy.toml").read_text("utf-8")
        source = "<default taxonomy>"
    else:
        p = Path(path)
        try:
            text = p.read_text("utf-8")
        except OSError as exc:
            raise TaxonomyError(f"cannot read taxonomy file {p}: {exc.strerror}") from exc
        source = str(p)
    return parse_taxonomy(text, source)


@lru_cache(maxsize=16)
def taxonomy_names(path: str = DEFAULT_TAXONOMY) -> tuple[str, ...]:
    """Category names of a taxonomy file, read once per path (for hot paths that need only names).

    Edits to the file are seen after a restart, like every other setting.
    """
    return tuple(load_taxonomy(path).names)


def parse_taxonomy(text: str, source: str = "<string>") -> Taxonomy:
    """Parse TOML text into a Taxonomy; raise TaxonomyError naming field and line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TaxonomyError(f"{source}: invalid TOML: {exc}") from exc
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = err["loc"]
            field = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_of(text, loc)
            where = f"line {line}, " if line else ""
            problems.append(f"{source}: {where}field `{field}`: {err['msg']}")
        raise TaxonomyError("invalid taxonomy:\n  " + "\n  ".join(problems)) from exc


def dump_thresholds(path: str | Path, auto_apply: float, suggest: float) -> None:
    """Set the [thresholds] values in a taxonomy file, keeping comments and layout (``tomlkit``).

    Written atomically and only if the result is a valid taxonomy; the file keeps its mode.
    """
    from .tomlfile import read_document, write_document

    doc = read_document(path)
    if "thresholds" not in doc:
        doc["thresholds"] = tomlkit.table()
    doc["thresholds"]["auto_apply"] = round(float(auto_apply), 4)
    doc["thresholds"]["suggest"] = round(float(suggest), 4)
    write_document(path, doc, mode=None, validate=lambda text: parse_taxonomy(text, str(path)))


def _line_of(text: str, loc: tuple) -> int | None:
    """Best-effort line number for a validation error location such as ('categories', 2, 'name')."""
    lines = text.splitlines()
    if not loc:
        return None
    if loc[0] == "categories" and len(loc) >= 2 and isinstance(loc[1], int):
        headers = [i for i, ln in enumerate(lines) if ln.strip() == "[[categories]]"]
        if loc[1] < len(headers):
            start = headers[loc[1]]
            end = headers[loc[1] + 1] if loc[1] + 1 < len(headers) else len(lines)
            if len(loc) >= 3:
                key = str(loc[2])
                for i in range(start, end):
                    if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
                        return i + 1
            return start + 1
    key = str(loc[-1]) if not isinstance(loc[-1], int) else str(loc[0])
    for i, ln in enumerate(lines):
        if re.match(rf"\s*{re.escape(key)}\s*=", ln) or ln.strip() == f"[{key}]":
            return i + 1
    return None
