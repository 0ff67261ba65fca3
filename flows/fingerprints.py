"""Which sensor page holds a resident's fingerprint on this kiosk, keyed by a keyed hash of the ID number.

The sensor keeps templates in numbered pages; a returning resident is verified 1:1 against their
page instead of enrolling again. The mapping never holds the ID number itself: the key is an HMAC
of it (the store's key, purpose "fingerprint_page"), so a copy of this file tells nobody whose
fingers are in the sensor. The mapping is written *before* the template is stored in the sensor;
a crash between the two leaves a page mapped but empty, which ``verify`` finds (empty page) and
the flow then enrols again into the same page.

When the retention purge deletes a resident's personal data it also ``forget``s their page: the
mapping row goes at once and the page is queued in ``pages_to_wipe``; the running kiosk, which owns
the sensor's serial port, deletes queued pages from the sensor's flash when it is idle
(``wipe_pending``). A queued page is never handed out again before it was wiped, so the wipe can
never hit a newer resident's template.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from flows.errors import FlowError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS finger_pages (
    key TEXT PRIMARY KEY,
    page INTEGER NOT NULL UNIQUE,
    enrolled_at REAL,
    used_at REAL NOT NULL
)
"""
_WIPE_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages_to_wipe (
    page INTEGER PRIMARY KEY,
    queued_at REAL NOT NULL
)
"""


log = logging.getLogger(__name__)

DIRECTORY_NAME = "fingerprint-pages.sqlite3"  # beside the store's database (kiosk.runtime, kiosk purge)
PAGE_KEY_PURPOSE = "fingerprint-page"  # the store cipher's MAC purpose for the page keys


class SensorPages(Protocol):
    def delete(self, page: int, count: int = 1) -> None: ...


class FingerprintPagesFull(FlowError):
    code = "fingerprint.pages_full"


class FingerprintDirectory:
    def __init__(
        self,
        path: str | Path,
        keyed_hash: Callable[[str], str],
        *,
        first_page: int = 0,
        pages: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.keyed_hash = keyed_hash
        self.first_page = first_page
        self.pages = pages
        self.clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("PRAGMA secure_delete = ON")  # a forgotten key leaves no trace in free pages
        self._db.execute(_SCHEMA)
        self._db.execute(_WIPE_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def lookup(self, id_number: str) -> tuple[int, bool] | None:
        """(page, enrolled) for this person, or None when they never enrolled here."""
        with self._lock:
            row = self._db.execute(
                "SELECT page, enrolled_at FROM finger_pages WHERE key = ?", (self.keyed_hash(id_number),)
            ).fetchone()
        return None if row is None else (int(row[0]), row[1] is not None)

    def reserve(self, id_number: str) -> int:
        """The person's page (existing or a new free one), written down before the sensor stores into it."""
        key = self.keyed_hash(id_number)
        with self._lock:
            row = self._db.execute("SELECT page FROM finger_pages WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return int(row[0])
            taken = "SELECT page FROM finger_pages UNION SELECT page FROM pages_to_wipe"
            used = {int(r[0]) for r in self._db.execute(taken)}
            free = next((p for p in range(self.first_page, self.first_page + self.pages) if p not in used), None)
            if free is None:  # evict the page unused longest: that resident simply enrols again
                victim = self._db.execute("SELECT key, page FROM finger_pages ORDER BY used_at LIMIT 1").fetchone()
                if victim is None:
                    raise FingerprintPagesFull("no fingerprint pages configured")
                self._db.execute("DELETE FROM finger_pages WHERE key = ?", (victim[0],))
                free = int(victim[1])
            self._db.execute(
                "INSERT INTO finger_pages (key, page, enrolled_at, used_at) VALUES (?, ?, NULL, ?)",
                (key, free, self.clock()),
            )
            return free

    def mark_enrolled(self, id_number: str) -> None:
        with self._lock:
            now = self.clock()
            self._db.execute(
                "UPDATE finger_pages SET enrolled_at = ?, used_at = ? WHERE key = ?",
                (now, now, self.keyed_hash(id_number)),
            )

    def touch(self, id_number: str) -> None:
        with self._lock:
            key = self.keyed_hash(id_number)
            self._db.execute("UPDATE finger_pages SET used_at = ? WHERE key = ?", (self.clock(), key))

    def mark_empty(self, id_number: str) -> None:
        """The sensor page turned out empty (crash before store, or wiped): enrol again."""
        with self._lock:
            self._db.execute("UPDATE finger_pages SET enrolled_at = NULL WHERE key = ?", (self.keyed_hash(id_number),))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM finger_pages").fetchone()[0])

    # -- retention -----------------------------------------------------------------------------------
    def forget(self, id_number: str) -> int | None:
        """Drop this person's mapping and queue their page for deletion from the sensor; returns the page."""
        key = self.keyed_hash(id_number)
        with self._lock:
            row = self._db.execute("SELECT page FROM finger_pages WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM finger_pages WHERE key = ?", (key,))
                self._db.execute(
                    "INSERT OR REPLACE INTO pages_to_wipe (page, queued_at) VALUES (?, ?)", (int(row[0]), self.clock())
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(row[0])

    def pending_wipes(self) -> list[int]:
        with self._lock:
            return [int(r[0]) for r in self._db.execute("SELECT page FROM pages_to_wipe ORDER BY page")]

    def wipe_pending(self, sensor: SensorPages) -> int:
        """Delete every queued page from the sensor (call only while the kiosk is idle); returns how many."""
        done = 0
        for page in self.pending_wipes():
            sensor.delete(page, 1)  # a failure stops here; the rest stays queued for the next round
            with self._lock:
                self._db.execute("DELETE FROM pages_to_wipe WHERE page = ?", (page,))
            done += 1
        if done:
            log.info("deleted %d purged resident fingerprint page(s) from the sensor", done)
        return done
