"""The instance folder (``instance/`` by default): owner-only, and its ``triage.toml`` settings file.

Everything the service writes at run time lives here (event store, queue, API keys, form secret,
secrets stored by ``triage install``), so the folder is 0700 and its files 0600
(``plugin.private_files``) whoever creates them first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .private_files import private_dir
from .tomlfile import upsert

INSTANCE_FILE = "triage.toml"


def ensure_instance_dir(instance_dir: str | Path) -> Path:
    """Create the instance folder if needed; owner-only either way."""
    return private_dir(instance_dir)


def instance_file(instance_dir: str | Path) -> Path:
    """Where ``load_settings`` finds the instance's settings and stored secrets."""
    return Path(instance_dir) / INSTANCE_FILE


def update_instance_file(instance_dir: str | Path, values: dict[str, Any]) -> Path:
    """Set ``values`` in ``triage.toml`` (other keys and comments kept), atomically, mode 0600."""
    ensure_instance_dir(instance_dir)
    return upsert(instance_file(instance_dir), values)
