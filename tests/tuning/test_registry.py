"""The model registry in the database: promote, roll back, and a host without the files gets them
from the database (on PostgreSQL: a model promoted on one host is the model of every other)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from plugin import registry
from plugin.config import load_settings
from plugin.fallback import load_fallback

BUNDLED = Path(__file__).resolve().parents[2] / "tflite_fallback" / "models" / "default"


def _settings(instance: Path, database_url: str | None):
    return load_settings({"instance_dir": instance, **({"database_url": database_url} if database_url else {})},
                         env={})


def _install(settings, version: str) -> Path:
    """A trained model under ``models/<version>/`` (the bundled one's files, without its exports)."""
    return Path(shutil.copytree(BUNDLED, registry.registry_dir(settings) / version,
                                ignore=shutil.ignore_patterns("*.tflite")))


def test_promote_rollback_and_files_restored_from_the_database(tmp_path, database_url):
    s = _settings(tmp_path / "inst", database_url)
    assert registry.current_version(s) is None and registry.active_model_dir(s) == "default"
    _install(s, "v1")
    registry.promote(s, "v1", {"holdout_accuracy": 0.8})
    _install(s, "v2")
    registry.promote(s, "v2")
    assert registry.current_version(s) == "v2"
    assert registry.rollback(s) == "v1" and registry.current_version(s) == "v1"
    assert [e["version"] for e in registry.history(s)] == ["v1", "v2", "v1"]
    assert registry.history(s)[0]["metrics"] == {"holdout_accuracy": 0.8}
    assert registry.history(s)[2]["rollback_from"] == "v2"
    shutil.rmtree(registry.registry_dir(s) / "v1")  # this host lost the files (or never had them)
    active = Path(registry.active_model_dir(s))
    assert active == registry.registry_dir(s) / "v1"
    assert (active / "weights.npz").read_bytes() == (BUNDLED / "weights.npz").read_bytes()
    assert load_fallback(active).version == load_fallback(BUNDLED).version
    with pytest.raises(Exception, match="no model"):
        registry.promote(s, "v9")  # nothing trained under that name


@pytest.mark.postgres
def test_a_model_promoted_on_one_host_is_loaded_by_another(tmp_path, postgres_url):
    trainer, worker = _settings(tmp_path / "trainer", postgres_url), _settings(tmp_path / "worker", postgres_url)
    _install(trainer, "v7")
    registry.promote(trainer, "v7")
    assert registry.current_version(worker) == "v7"
    active = Path(registry.active_model_dir(worker))
    assert active == tmp_path / "worker" / "models" / "v7"  # written from the database, no shared disk
    trained = tmp_path / "trainer" / "models" / "v7"
    assert sorted(p.name for p in active.iterdir()) == sorted(p.name for p in trained.iterdir())
    assert load_fallback(active).version == load_fallback(BUNDLED).version


def test_the_file_based_registry_of_earlier_versions_is_imported(tmp_path):
    s = _settings(tmp_path / "inst", None)
    _install(s, "old1")
    _install(s, "old2")
    (registry.registry_dir(s) / "history.json").write_text(json.dumps([
        {"version": "old1", "promoted_at": 1.0, "metrics": {}},
        {"version": "old2", "promoted_at": 2.0, "metrics": {}},
        {"version": "old1", "promoted_at": 3.0, "rollback_from": "old2"}]))
    s.db_path.parent.mkdir(parents=True, exist_ok=True)
    s.db_path.touch()  # an instance that already has its store
    assert registry.current_version(s) == "old1"
    assert [e["promoted_at"] for e in registry.history(s)] == [1.0, 2.0, 3.0]
