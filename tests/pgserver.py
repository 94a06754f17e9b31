"""A throwaway PostgreSQL server for the tests and the benches, from Debian's ``postgresql`` binaries.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback port with its unix
socket in that directory; as root (CI containers) the server runs as the unprivileged ``nobody``
(``runuser``), since PostgreSQL refuses to run as root. Each test gets a database of its own
(``create_database``), so tests never see each other's rows.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from plugin.ports import free_port

SUPERUSER = "postgres"
UNPRIVILEGED = "nobody"


def bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` with ``initdb``, else ``initdb`` on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def unavailable() -> str | None:
    """Why no server can be started here (the skip message), or None."""
    if bin_dir() is None:
        return ("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb);"
                " CI installs them: apt-get install postgresql")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start PostgreSQL as an unprivileged user"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg not installed: pip install 'helpdesk-triage[postgres]'"
    return None


class PostgresServer:
    """``start()`` … ``stop()``; ``url(db)`` for clients; ``create_database`` / ``drop_database``."""

    def __init__(self, *, fsync: bool = True) -> None:
        self.bin = bin_dir()
        self.fsync = fsync
        self.root: Path | None = None
        self.port = 0

    def _run(self, *argv: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", UNPRIVILEGED, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> "PostgresServer":
        self.root = Path(tempfile.mkdtemp(prefix="triage-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, UNPRIVILEGED)
        data = self.root / "data"
        done = self._run("initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")
        self.port = free_port()
        self.resume()
        return self

    def pause(self) -> None:
        """Stop the server as a crash would (``immediate``), keeping its data: an outage."""
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        """(Re)start the server on its port with the data it had."""
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=400"
                   f" -c fsync={'on' if self.fsync else 'off'}")
        done = self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "server.log"), "-o", options,
                         "-w", "-t", "60", "start")
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace") if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr[-1000:]} {log[-2000:]}")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str) -> str:
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # ends leftover child connections

    def stop(self) -> None:
        if self.root is None:
            return
        self.pause()
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
