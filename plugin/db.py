"""SQLite connections shared by the stores: WAL, autocommit, a busy timeout, one per thread.

sqlite3 connections must not be used from two threads at once, so each store keeps one per
thread; this module is the single place that decides how such a connection is opened.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from .private_files import private_file

DEFAULT_BUSY_TIMEOUT_S = 30.0


def connect(path: Path | str, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open ``path`` in WAL mode with explicit transactions (``isolation_level=None``).

    ``synchronous`` is ``FULL`` (a commit survives power loss) or ``NORMAL`` (survives a killed
    process, not an OS crash). The file is created (or tightened to) mode 0600.
    """
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError("synchronous must be FULL or NORMAL")
    private_file(path)  # owner-only before SQLite writes anything; its -wal/-shm files follow
    conn = sqlite3.connect(path, timeout=DEFAULT_BUSY_TIMEOUT_S, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA busy_timeout={int(DEFAULT_BUSY_TIMEOUT_S * 1000)}")
    return conn


class ThreadConnections:
    """One connection per thread to the same database file."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.synchronous = synchronous
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path, synchronous=self.synchronous)
        return conn

    def close(self) -> None:
        """Close the calling thread's connection (others close with their threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
