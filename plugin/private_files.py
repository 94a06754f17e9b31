"""Owner-only files and folders for what holds secrets: the instance folder, its SQLite files, its
TOML file, the form secret.

One place decides the modes (folder 0700, files 0600) so no writer forgets them: the event store,
the API-key store and the queue all hold ticket ids, key digests or job data, and the instance
file holds helpdesk and signing secrets. Files are created with the mode (``O_CREAT`` + mode, no
window in which they are world-readable); SQLite then creates its ``-wal``/``-shm`` files with the
database file's mode. Atomic writes go to a temporary file in the same folder and ``os.replace``
it, so a reader (or a crash) never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and parents) if needed and make it owner-only (0700)."""
    p = Path(path)
    p.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if p.stat().st_mode & 0o777 != DIR_MODE:
        os.chmod(p, DIR_MODE)
    return p


def private_file(path: str | Path) -> Path:
    """Make sure ``path`` exists and is owner-only (0600) before anything writes to it.

    Creating it empty with the mode is what SQLite needs: it opens an existing empty file as a
    new database, and its journal files inherit the mode.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        if p.stat().st_mode & 0o777 != FILE_MODE:
            os.chmod(p, FILE_MODE)
    else:
        os.close(fd)
    return p


def atomic_write_text(path: str | Path, text: str, *, mode: int | None = FILE_MODE) -> Path:
    """Replace ``path`` with ``text`` in one step (temp file in the same folder + ``os.replace``).

    The temporary file is created owner-only and chmod-ed to ``mode`` before it is renamed, so the
    new file never exists with wider permissions than asked for. ``mode=None`` keeps the mode of
    the file being replaced (0644 for a new one): for files that hold no secret, like a taxonomy.
    """
    p = Path(path)
    if mode is None:
        mode = p.stat().st_mode & 0o777 if p.exists() else 0o644
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return p
