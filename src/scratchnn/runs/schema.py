"""The run store's SQLite schema, its migrations, and opening a database file.

The schema version lives in SQLite's ``PRAGMA user_version`` (0 for a new, empty file).
``MIGRATIONS[i]`` brings a database from version ``i`` to ``i + 1``; on open, every pending one
runs in order inside one ``BEGIN IMMEDIATE`` transaction, so two processes opening an old file
at once migrate it exactly once, and a migration that fails leaves the file as it was.

To change the schema, *append* a function to ``MIGRATIONS`` (never edit a released one) and add
a test that opens a database of the previous version written by hand.

Version history:

1. ``runs`` (one row per run, JSON columns for config, final metrics and timings) and
   ``epochs`` (one row per logged epoch, so logging appends instead of rewriting a history).
2. ``runs.sweep_id`` and ``runs.trial_key`` with ``UNIQUE (sweep_id, trial_key)``, so that no
   sweep trial is recorded twice; indexes on ``status`` and ``created_at``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from scratchnn.runs.errors import (
    DatabaseLockedError,
    NotADatabaseError,
    RunStoreError,
    SchemaTooNewError,
)

Migration = Callable[[sqlite3.Connection], None]
"""A function that changes the schema by one version inside the caller's transaction."""


def _run_statements(conn: sqlite3.Connection, sql: str) -> None:
    """Execute ``;``-separated statements one by one (``executescript`` would commit)."""
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v1_create_tables(conn: sqlite3.Connection) -> None:
    """Version 1: the ``runs`` and ``epochs`` tables."""
    _run_statements(
        conn,
        """
        CREATE TABLE runs (
            id          TEXT PRIMARY KEY,
            name        TEXT,
            status      TEXT NOT NULL
                        CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
            created_at  TEXT NOT NULL,
            started_at  TEXT,
            finished_at TEXT,
            config      TEXT NOT NULL DEFAULT '{}',
            metrics     TEXT NOT NULL DEFAULT '{}',
            timings     TEXT NOT NULL DEFAULT '{}',
            model_path  TEXT,
            version     TEXT,
            error       TEXT,
            pid         INTEGER,
            hostname    TEXT
        );
        CREATE TABLE epochs (
            run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            epoch     INTEGER NOT NULL,
            metrics   TEXT NOT NULL,
            logged_at TEXT NOT NULL,
            PRIMARY KEY (run_id, epoch)
        ) WITHOUT ROWID
        """,
    )


def _v2_sweeps(conn: sqlite3.Connection) -> None:
    """Version 2: sweep and trial columns, one run per trial, and indexes for listing."""
    _run_statements(
        conn,
        """
        ALTER TABLE runs ADD COLUMN sweep_id TEXT;
        ALTER TABLE runs ADD COLUMN trial_key TEXT;
        CREATE UNIQUE INDEX runs_sweep_trial ON runs (sweep_id, trial_key);
        CREATE INDEX runs_status ON runs (status, hostname);
        CREATE INDEX runs_created ON runs (created_at)
        """,
    )


MIGRATIONS: list[Migration] = [_v1_create_tables, _v2_sweeps]
"""``MIGRATIONS[i]`` upgrades schema version ``i`` to ``i + 1``. Append only."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The newest schema version this library writes and reads."""


@contextlib.contextmanager
def sqlite_errors(path: Path, timeout: float) -> Iterator[None]:
    """Turn SQLite's terse errors about the file into :class:`RunStoreError` naming ``path``."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.DatabaseError as exc:
        message = str(exc).lower()
        if "locked" in message or "busy" in message:
            raise DatabaseLockedError(
                f"{path} stayed locked by another process for more than {timeout:g} s "
                f"(SQLite: {exc}). Wait for the other writer to finish, or raise the timeout "
                "(RunStore(..., timeout=...))."
            ) from exc
        if "not a database" in message:
            raise NotADatabaseError(
                f"{path} is not a SQLite database, so it cannot hold runs. Move the file away "
                "or point the run store elsewhere (--runs-dir or SCRATCHNN_RUNS)."
            ) from exc
        if "malformed" in message or "corrupt" in message:
            raise RunStoreError(
                f"{path} is damaged (SQLite: {exc}); the run store stopped without changing it. "
                f"Keep a copy, recover what is readable with `sqlite3 {path} .recover | sqlite3 "
                "recovered.sqlite`, or point the run store elsewhere (--runs-dir or "
                "SCRATCHNN_RUNS)."
            ) from exc
        if "unable to open" in message or "disk i/o" in message:
            raise RunStoreError(
                f"cannot use the run database {path}: {exc}. Check that the path is a writable "
                "file (or directory), or point the run store elsewhere "
                "(--runs-dir or SCRATCHNN_RUNS)."
            ) from exc
        raise


def _too_new(path: Path, version: int, known: int) -> SchemaTooNewError:
    """The error for a database whose schema is newer than this library's."""
    return SchemaTooNewError(
        f"{path} was written by a newer scratchnn (schema {version}, this one reads up to "
        f"{known}); upgrade scratchnn or use another --runs-dir (or SCRATCHNN_RUNS)."
    )


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the database on ``conn`` to :data:`SCHEMA_VERSION`; return the version it had.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Pending migrations run in
    one ``BEGIN IMMEDIATE`` transaction; if one fails, nothing of them is kept.

        >>> import sqlite3
        >>> conn = sqlite3.connect(":memory:", isolation_level=None)
        >>> migrate(conn, Path(":memory:"))
        0
        >>> conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        True
    """
    migrations = MIGRATIONS
    known = len(migrations)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > known:
        raise _too_new(path, version, known)
    if version == known:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated between our read and our lock: read again.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > known:
            raise _too_new(path, version, known)
        for step in migrations[version:]:
            step(conn)
        conn.execute(f"PRAGMA user_version = {int(known)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return version


def _check_intact(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a damaged database before anything writes to it (``PRAGMA quick_check``).

    The check reads every page once (about 50 ms for a 45 MB store); a damaged page found later
    by a query raises the same error through :func:`sqlite_errors`.
    """
    problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    if problem != "ok":
        raise sqlite3.DatabaseError(f"database disk image is malformed: {problem}")


def connect(path: Path, timeout: float) -> sqlite3.Connection:
    """Open (creating if needed) the run database at ``path``, configured and migrated.

    The connection is in autocommit mode (the store opens its own transactions), uses WAL
    journaling with ``synchronous=NORMAL``, enforces foreign keys, and waits up to ``timeout``
    seconds for another writer's lock. It may be used from several threads, one at a time.

    A file of a newer schema, or a damaged one (``PRAGMA quick_check``), is refused before
    anything is written to it: the file is left byte for byte as it was.
    """
    with sqlite_errors(path, timeout):
        if path.is_dir():
            raise RunStoreError(
                f"{path} is a directory, not a run database file; pass the directory that "
                "holds runs.sqlite, or a path ending in .sqlite."
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunStoreError(f"cannot create the run directory {path.parent}: {exc}") from exc
        conn = sqlite3.connect(
            str(path), timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise _too_new(path, version, len(MIGRATIONS))
            _check_intact(conn, path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, path)
        except BaseException:
            conn.close()
            raise
    return conn
