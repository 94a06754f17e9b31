"""Versioned fallback models under ``<instance_dir>/models/``: promote, roll back, pick the active one.

Layout::

    models/<version>/         one trained model (weights, config, labels, label_distribution.json)
    models/current            symlink to the active version's directory
    models/history.json       promotions, oldest first: [{"version", "promoted_at", "metrics"}]

The active model is ``models/current`` when it exists and the ``model_dir`` setting is left at
``default``; an explicit ``model_dir`` always wins. Each prediction records the model's version
(``Result.model_version``), so every stored outcome says which model made it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .config import Settings
from .exceptions import ConfigError

CURRENT = "current"
HISTORY = "history.json"


def registry_dir(settings: Settings) -> Path:
    return Path(settings.instance_dir) / "models"


def active_model_dir(settings: Settings) -> str:
    """The model directory the pipeline should load (see module docstring)."""
    if str(settings.model_dir) != "default":
        return str(settings.model_dir)
    current = registry_dir(settings) / CURRENT
    return str(current) if (current / "config.json").exists() else "default"


def history(settings: Settings) -> list[dict[str, Any]]:
    path = registry_dir(settings) / HISTORY
    return json.loads(path.read_text("utf-8")) if path.exists() else []


def current_version(settings: Settings) -> str | None:
    link = registry_dir(settings) / CURRENT
    return os.readlink(link) if link.is_symlink() else None


def promote(settings: Settings, version: str, metrics: dict[str, Any] | None = None) -> Path:
    """Make ``models/<version>`` the active model; the previous one stays for rollback."""
    root = registry_dir(settings)
    if not (root / version / "config.json").exists():
        raise ConfigError(f"no model {version!r} in {root}")
    _point_current(root, version)
    entries = history(settings)
    entries.append({"version": version, "promoted_at": time.time(), "metrics": metrics or {}})
    _write_history(root, entries)
    _forget_loaded()
    return root / version


def rollback(settings: Settings) -> str:
    """Re-activate the model that was active before the current one; returns its version.

    Raises:
        ConfigError: there is no earlier promoted version.
    """
    root = registry_dir(settings)
    entries = history(settings)
    current = current_version(settings)
    versions = [e["version"] for e in entries]
    if current in versions:
        earlier = versions[:len(versions) - 1 - versions[::-1].index(current)]
    else:
        earlier = versions
    earlier = [v for v in earlier if v != current and (root / v / "config.json").exists()]
    if not earlier:
        raise ConfigError("nothing to roll back to: no earlier promoted model")
    target = earlier[-1]
    _point_current(root, target)
    entries.append({"version": target, "promoted_at": time.time(), "rollback_from": current})
    _write_history(root, entries)
    _forget_loaded()
    return target


def _point_current(root: Path, version: str) -> None:
    tmp = root / f".{CURRENT}.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(version, tmp)  # relative: the instance dir can move
    os.replace(tmp, root / CURRENT)  # atomic: readers see the old or the new model, never none


def _write_history(root: Path, entries: list[dict[str, Any]]) -> None:
    tmp = root / f".{HISTORY}.tmp"
    tmp.write_text(json.dumps(entries, indent=2) + "\n", "utf-8")
    os.replace(tmp, root / HISTORY)


def _forget_loaded() -> None:
    from .fallback import clear_cache

    clear_cache()
