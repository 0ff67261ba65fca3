"""One SQLite file for everything the kiosk must not lose.

WAL + ``synchronous=FULL``: a COMMIT returns only after the WAL is fsynced, so "committed" means
"on disk". One connection guarded by an RLock (the kiosk writes a few rows a minute; a lock is
simpler to reason about than a connection per thread and SQLite serialises writers anyway).
Transactions are ``BEGIN IMMEDIATE`` so the write lock is taken up front and a busy database shows
up at BEGIN (after ``busy_timeout``) instead of half-way through. Nested ``transaction()`` blocks
become SAVEPOINTs, so helpers can open their own block and still join the caller's transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devices.errors import Recovery
from locker import schema
from locker.errors import DiskFull, StoreError
from locker.fsutil import fsync_dir

log = logging.getLogger(__name__)

_SQLITE_FULL = 13
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6


def translate(exc: sqlite3.Error, path: Path, what: str) -> StoreError:
    """Turn a sqlite3 error into the store's typed errors (a full disk is told apart)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        code &= 0xFF  # extended codes carry the primary code in the low byte
    if code == _SQLITE_FULL:
        return DiskFull(
            f"no space left for the database {path} while trying to {what}; free space on that "
            f"partition — the transaction was rolled back, nothing half-written remains"
        )
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StoreError(f"database {path} is busy ({what}): {exc}", recovery=Recovery.RETRY)
    return StoreError(f"database {path} failed to {what}: {exc}")


class Database:
    """The store's SQLite file: opened, configured and migrated by the constructor."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._after_commit: dict[object, Callable[[], None]] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise translate(exc, self.path, "open") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000):d}")
            if schema.user_version(conn) > schema.LATEST:  # refuse before touching the file at all
                schema.migrate(conn, str(self.path))
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"database {self.path} refused WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self.version = schema.migrate(conn, str(self.path))
            fsync_dir(self.path.parent)  # the new database/WAL file names survive a power cut too
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, self.path, "open") from exc
        except StoreError:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"database {self.path} is closed")
        return self._conn

    # -- transactions ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (outermost) or a savepoint inside one; commits on normal exit."""
        with self._lock:
            conn = self.conn
            depth = self._depth
            name = f"sp{depth}"
            try:
                conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {name}")
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "begin a transaction") from exc
            self._depth += 1
            try:
                yield conn
            except BaseException as exc:
                self._depth -= 1
                self._rollback(conn, depth, name)
                if isinstance(exc, sqlite3.Error):
                    raise translate(exc, self.path, "write") from exc
                raise
            self._depth -= 1
            try:
                conn.execute("COMMIT" if depth == 0 else f"RELEASE {name}")
            except sqlite3.Error as exc:
                self._rollback(conn, depth, name)
                raise translate(exc, self.path, "commit") from exc
            if depth == 0:
                self._run_after_commit()

    def _rollback(self, conn: sqlite3.Connection, depth: int, name: str) -> None:
        try:
            if depth == 0:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._after_commit.clear()
            else:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
        except sqlite3.Error:
            log.exception("rollback of %s failed", self.path)

    def after_commit(self, hook: Callable[[], None], *, key: object | None = None) -> None:
        """Run ``hook`` once the outermost transaction has committed (dropped on rollback).

        Hooks registered with the same ``key`` in one transaction run once (the first
        registration's place, the last one's function). Hooks run under the database lock, in
        commit order. A failing hook is logged, not raised: the data is already durable and the
        caller must not believe otherwise.
        """
        if self._depth == 0:
            raise StoreError("after_commit() called outside a transaction")
        self._after_commit[object() if key is None else key] = hook

    def _run_after_commit(self) -> None:
        hooks, self._after_commit = list(self._after_commit.values()), {}
        for hook in hooks:
            try:
                hook()
            except Exception:
                log.exception("after-commit hook failed for %s", self.path)

    # -- reads -----------------------------------------------------------------------------------
    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "read") from exc

    def query_one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Cursor:
        """Run one write statement in its own transaction (or the caller's)."""
        with self.transaction() as conn:
            try:
                return conn.execute(sql, params)
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "write") from exc
