"""Versioned fallback models: promote, roll back, pick the active one. The registry is in the database.

Promotions are rows of ``model_promotions`` in the stores' database (``plugin.db``: the SQLite file,
or PostgreSQL with ``database_url``), and a promoted model's files are stored beside them
(``model_files``). So every host sharing the database agrees on the active model, and a worker on
another machine that lacks ``<instance_dir>/models/<version>/`` writes it from the database on first
use: it loads exactly the model that was promoted, with no shared disk.

Layout on each host::

    models/<version>/         one trained model (weights, config, labels, label_distribution.json, index/)

The active model is the latest promotion when the ``model_dir`` setting is left at ``default``; an
explicit ``model_dir`` always wins. Each prediction records the model's version
(``Result.model_version``), so every stored outcome says which model made it. A running process
keeps the model it loaded; hosts load a new promotion at their next start.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from .config import Settings
from .db import Database, migrate, open_database
from .exceptions import ConfigError

LEGACY_HISTORY = "history.json"  # the file-based registry of earlier versions, imported once

# Portable DDL; BYTEA holds bytes on both (a column of no known type keeps BLOBs as they are in SQLite).
MIGRATIONS = ["""
CREATE TABLE IF NOT EXISTS model_promotions (
    seq INTEGER PRIMARY KEY,
    version TEXT NOT NULL,
    promoted_at DOUBLE PRECISION NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    rollback_from TEXT
);
CREATE TABLE IF NOT EXISTS model_files (
    version TEXT NOT NULL,
    name TEXT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (version, name)
)
"""]
_open: dict[str, Database] = {}
_open_lock = threading.Lock()


def registry_dir(settings: Settings) -> Path:
    return Path(settings.instance_dir) / "models"


def _database(settings: Settings, *, create: bool) -> Database | None:
    """The registry's database (migrated, cached per target); None when reading an embedded
    instance that has no database file yet (``triage classify`` must not create one)."""
    target = settings.database
    if not create and isinstance(target, Path) and not target.exists():
        return None
    key = str(target)
    with _open_lock:
        db = _open.get(key)
        if db is None or (db.path is not None and not db.path.exists()):
            db = open_database(target)
            migrate(db, "model_registry", MIGRATIONS)
            _import_legacy(db, registry_dir(settings))
            _open[key] = db
    return db


def history(settings: Settings) -> list[dict[str, Any]]:
    """Promotions, oldest first: ``{"version", "promoted_at", "metrics"[, "rollback_from"]}``."""
    db = _database(settings, create=False)
    if db is None:
        return []
    rows = db.execute("SELECT version, promoted_at, metrics, rollback_from FROM model_promotions ORDER BY seq")
    out = []
    for r in rows:
        entry = {"version": r["version"], "promoted_at": r["promoted_at"], "metrics": json.loads(r["metrics"])}
        if r["rollback_from"] is not None:
            entry["rollback_from"] = r["rollback_from"]
        out.append(entry)
    return out


def current_version(settings: Settings) -> str | None:
    db = _database(settings, create=False)
    if db is None:
        return None
    row = db.execute("SELECT version FROM model_promotions ORDER BY seq DESC LIMIT 1").fetchone()
    return row["version"] if row else None


def active_model_dir(settings: Settings) -> str:
    """The model directory the pipeline should load (see module docstring)."""
    if str(settings.model_dir) != "default":
        return str(settings.model_dir)
    version = current_version(settings)
    if version is None:
        return "default"
    path = registry_dir(settings) / version
    if not (path / "config.json").exists():
        _materialize(_database(settings, create=False), path, version)
    return str(path) if (path / "config.json").exists() else "default"


def promote(settings: Settings, version: str, metrics: dict[str, Any] | None = None) -> Path:
    """Make ``models/<version>`` the active model on every host; the previous one stays for rollback."""
    root = registry_dir(settings)
    if not (root / version / "config.json").exists():
        raise ConfigError(f"no model {version!r} in {root}")
    db = _database(settings, create=True)
    with db.transaction() as tx:
        _store_files(tx, root / version, version)
        _append(tx, version, metrics or {}, None)
    _forget_loaded()
    return root / version


def rollback(settings: Settings) -> str:
    """Re-activate the model that was active before the current one; returns its version.

    Raises:
        ConfigError: there is no earlier promoted version.
    """
    entries = history(settings)
    current = current_version(settings)
    versions = [e["version"] for e in entries]
    if current in versions:
        earlier = versions[:len(versions) - 1 - versions[::-1].index(current)]
    else:
        earlier = versions
    db = _database(settings, create=True)
    stored = {r["version"] for r in db.execute("SELECT DISTINCT version FROM model_files")}
    earlier = [v for v in earlier if v != current and v in stored]
    if not earlier:
        raise ConfigError("nothing to roll back to: no earlier promoted model")
    target = earlier[-1]
    with db.transaction() as tx:
        _append(tx, target, {}, current)
    _forget_loaded()
    return target


def _append(tx, version: str, metrics: dict[str, Any], rollback_from: str | None, *,
            promoted_at: float | None = None) -> None:
    """One promotion row; ``seq`` is the next number (two concurrent promotions: one fails on the key)."""
    tx.execute("INSERT INTO model_promotions (seq, version, promoted_at, metrics, rollback_from)"
               " SELECT COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM model_promotions",
               (version, promoted_at or time.time(), json.dumps(metrics), rollback_from))


def _store_files(tx, directory: Path, version: str) -> None:
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        tx.execute("INSERT INTO model_files (version, name, data) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                   (version, path.relative_to(directory).as_posix(), path.read_bytes()))


def _materialize(db: Database | None, path: Path, version: str) -> None:
    """Write a promoted model's files from the database to ``path`` (atomically: a whole
    directory appears, or none)."""
    if db is None:
        return
    rows = db.execute("SELECT name, data FROM model_files WHERE version=?", (version,)).fetchall()
    if not rows:
        return
    tmp = path.parent / f".{version}.{os.getpid()}.{threading.get_ident()}"
    shutil.rmtree(tmp, ignore_errors=True)
    for row in rows:
        out = tmp / row["name"]
        if tmp.resolve() not in out.resolve().parents:
            raise ConfigError(f"model file name {row['name']!r} leaves the model directory")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(bytes(row["data"]))
    try:
        os.rename(tmp, path)
    except OSError:  # another thread or process wrote it first
        shutil.rmtree(tmp, ignore_errors=True)


def _import_legacy(db: Database, root: Path) -> None:
    """Earlier versions kept the registry in ``models/history.json`` (+ a ``current`` symlink):
    import those promotions once, into an empty registry, so an upgrade keeps the active model."""
    legacy = root / LEGACY_HISTORY
    if not legacy.exists() or db.execute("SELECT 1 AS x FROM model_promotions LIMIT 1").fetchone():
        return
    entries = json.loads(legacy.read_text("utf-8"))
    with db.transaction() as tx:
        for entry in entries:
            if (root / entry["version"] / "config.json").exists():
                _store_files(tx, root / entry["version"], entry["version"])
                _append(tx, entry["version"], entry.get("metrics", {}), entry.get("rollback_from"),
                        promoted_at=entry.get("promoted_at"))


def _forget_loaded() -> None:
    from .fallback import clear_cache

    clear_cache()
