"""The one database layer of every store: SQLite (the embedded default) or PostgreSQL (``database_url``).

Stores write portable SQL once, with ``?`` placeholders, ``INSERT … ON CONFLICT DO NOTHING`` and
``RETURNING`` (both engines speak them); this module is where the two engines differ:

- connections: SQLite keeps one connection per thread (a ``sqlite3`` connection must not be used
  from two threads at once), WAL mode, a busy timeout; PostgreSQL uses psycopg 3's connection pool,
  one pool per URL per process, autocommit (an explicit ``transaction()`` where several statements
  must commit together);
- the dialect: placeholders (``?`` → ``%s``), how a write transaction begins (``BEGIN IMMEDIATE``
  takes SQLite's one write lock), and row locks (``FOR UPDATE``) where PostgreSQL lets several
  writers run at once;
- migrations: one mechanism for both (``migrate``): numbered, portable DDL per component, applied
  once, recorded in ``schema_migrations``, under an advisory lock on PostgreSQL so that two hosts
  starting together do not race.

psycopg is an optional dependency (``pip install helpdesk-triage[postgres]``), imported only when a
PostgreSQL URL is opened.
"""

from __future__ import annotations

import atexit
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

from .exceptions import ConfigError
from .private_files import private_file

DEFAULT_BUSY_TIMEOUT_S = 30.0
DEFAULT_POOL_MAX = 16  # connections per process and URL: request threads + workers + dispatcher
# Waiting for a free pooled connection (or for a server that is down) before failing: well under the
# 12 s a helpdesk waits for a webhook answer, so it gets our 503 (and redelivers), not its own timeout.
POOL_TIMEOUT_S = 5.0
_MIGRATION_LOCK = 0x7472696167  # "triag": pg_advisory_xact_lock key held while migrating


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def connect(path: Path | str, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open the SQLite file ``path`` in WAL mode with explicit transactions (``isolation_level=None``).

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
    """One SQLite connection per thread to the same database file."""

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


class Executor(Protocol):
    """What a store runs SQL on: a database, a transaction, or a single writer's connection.
    ``execute`` returns a cursor: ``fetchone``, ``fetchall``, iteration, ``rowcount``; rows are
    read by column name."""

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...


@dataclass(frozen=True)
class Dialect:
    """The few places the engines differ in SQL."""

    name: str  # "sqlite" | "postgresql"
    begin: str  # the statement that opens a write transaction
    row_locks: bool  # writers run concurrently: lock rows (``FOR UPDATE``) before deciding on them


SQLITE = Dialect("sqlite", "BEGIN IMMEDIATE", row_locks=False)  # one writer at a time already
POSTGRES = Dialect("postgresql", "BEGIN", row_locks=True)


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    """``?`` placeholders to psycopg's ``%s`` (our SQL has no ``?`` or ``%`` inside literals)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Rows:
    """A PostgreSQL result read eagerly, so its pooled connection goes back at once."""

    __slots__ = ("rows", "rowcount")

    def __init__(self, cur) -> None:
        self.rows = cur.fetchall() if cur.description is not None else []
        self.rowcount = cur.rowcount

    def fetchone(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[dict[str, Any]]:
        return self.rows

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)


class _PgTransaction:
    """One PostgreSQL connection inside ``BEGIN … COMMIT``."""

    __slots__ = ("conn",)

    def __init__(self, conn) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Rows:
        return _Rows(self.conn.execute(_pg_sql(sql), params))


class Database:
    """A SQLite file or a PostgreSQL database behind one interface (``execute``, ``transaction``)."""

    dialect: Dialect
    path: Path | None  # the SQLite file; None on PostgreSQL
    migrated: set[str]  # components ``migrate`` brought up to date through this object

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def transaction(self):
        """``with db.transaction() as tx: tx.execute(...)``: commits at the end, rolls back on error."""
        raise NotImplementedError

    def writer(self) -> Executor:
        """What ONE serialised writer used from changing threads runs on (the group committer)."""
        return self

    def close(self) -> None:
        """Release what the calling thread holds (SQLite: its connection; a pool stays open)."""


class SqliteDatabase(Database):
    dialect = SQLITE

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        self._conns = ThreadConnections(path, synchronous=synchronous)
        self.path = self._conns.path
        self.synchronous = synchronous
        self.migrated = set()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conns.get().execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conns.get()
        conn.execute(SQLITE.begin)
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def writer(self) -> sqlite3.Connection:
        """A connection of its own: its page cache stays warm from batch to batch, where each
        thread's own connection would re-read the pages the others changed. Never use it
        concurrently."""
        return connect(self.path, synchronous=self.synchronous)

    def close(self) -> None:
        self._conns.close()


class PostgresDatabase(Database):
    """A psycopg connection pool; every statement outside ``transaction()`` commits on its own
    (a commit returns once the server has flushed its WAL: ``synchronous_commit`` left on)."""

    dialect = POSTGRES
    path = None

    def __init__(self, url: str, *, max_size: int = DEFAULT_POOL_MAX) -> None:
        try:
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # the optional extra is missing
            raise ConfigError("database_url is PostgreSQL but psycopg is not installed:"
                              " pip install 'helpdesk-triage[postgres]'") from exc
        self._pool = ConnectionPool(url, min_size=1, max_size=max_size, timeout=POOL_TIMEOUT_S, open=False,
                                    kwargs={"autocommit": True, "row_factory": dict_row},
                                    name="triage")
        self.migrated = set()
        self._pool.open(wait=False)  # a server that is down fails the first statement, not the import

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Rows:
        with self._pool.connection() as conn:
            return _Rows(conn.execute(_pg_sql(sql), params))

    @contextmanager
    def transaction(self) -> Iterator[_PgTransaction]:
        with self._pool.connection() as conn, conn.transaction():
            yield _PgTransaction(conn)

    def shutdown(self) -> None:
        self._pool.close()


_POOLS: dict[str, PostgresDatabase] = {}
_POOLS_LOCK = threading.Lock()


def open_database(target: "Database | Path | str", *, synchronous: str = "FULL") -> Database:
    """A ``Database`` for a SQLite path or a ``postgresql://`` URL (one pool per URL per process).

    ``synchronous`` applies to SQLite only; PostgreSQL commits are durable with the server's
    defaults (``fsync`` and ``synchronous_commit`` on).
    """
    if isinstance(target, Database):
        return target
    if is_postgres_url(target):
        with _POOLS_LOCK:
            db = _POOLS.get(target)
            if db is None:
                db = _POOLS[target] = PostgresDatabase(target)
        return db
    return SqliteDatabase(target, synchronous=synchronous)


def close_database(url: str) -> None:
    """Close this process's pool for ``url`` (tests that drop the database; a later open makes a new one)."""
    with _POOLS_LOCK:
        db = _POOLS.pop(url, None)
    if db is not None:
        db.shutdown()


@atexit.register
def _close_pools() -> None:
    with _POOLS_LOCK:
        for db in _POOLS.values():
            db.shutdown()
        _POOLS.clear()


def store_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the database is unavailable" (503 territory) on either engine."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


_migrated_lock = threading.Lock()


def migrate(db: Database, component: str, migrations: Sequence[str]) -> None:
    """Bring ``component``'s tables to the newest version: apply each of ``migrations`` (portable
    DDL, statements separated by ``;``; number i+1 is ``migrations[i]``) not yet recorded in
    ``schema_migrations``, all in one transaction. Append new migrations; never edit applied ones.
    """
    if component in db.migrated:
        return  # already brought up to date through this object (one pool per URL per process)
    with _migrated_lock, db.transaction() as tx:
        if db.dialect.row_locks:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))  # hosts starting together
        tx.execute("CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL,"
                   " version INTEGER NOT NULL, PRIMARY KEY (component, version))")
        row = tx.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations WHERE component=?",
                         (component,)).fetchone()
        for version, script in enumerate(migrations, start=1):
            if version <= row["v"]:
                continue
            for statement in filter(None, (s.strip() for s in script.split(";"))):
                tx.execute(statement)
            tx.execute("INSERT INTO schema_migrations (component, version) VALUES (?, ?)", (component, version))
    db.migrated.add(component)
