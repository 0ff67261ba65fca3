"""Limits on guessing pickup codes, across sessions: per code and per kiosk, with back-off.

Why: the code screen allowed 3 tries per session and unlimited sessions, so a patient guesser
could walk the whole 10^6 space. Failures are kept in the database (a restart gives no fresh
tries) under the code's MAC (never the code):

- per kiosk: the first ``free`` failures within ``window_s`` cost nothing; each further failure
  doubles a wait (``base_s``, 2×, … up to ``max_s``) before the code screen accepts another code;
- per code: ``per_code`` failures within ``code_window_s`` (a day; wrong finger for a right code, or
  the same wrong code again) block that code at this kiosk — the resident is sent to staff, who
  can hand the result over with the ID card; a success clears that code's count.

Every failure is audited (``pickup.failed``, the case only when the code belonged to one).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from locker.audit import AuditLog
from locker.db import Database

log = logging.getLogger(__name__)

_TABLE = """CREATE TABLE IF NOT EXISTS pickup_failures (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    code_mac TEXT NOT NULL
)"""


class PickupGuard:
    def __init__(
        self,
        db: Database,
        audit: AuditLog | None,
        mac: Callable[[str], str],
        *,
        clock: Callable[[], float] = time.time,
        free: int = 5,
        window_s: float = 3600.0,
        base_s: float = 60.0,
        max_s: float = 3600.0,
        per_code: int = 5,
        code_window_s: float = 86400.0,
    ) -> None:
        self.db = db
        self.audit = audit
        self.mac = mac
        self.clock = clock
        self.free, self.window_s, self.base_s, self.max_s, self.per_code = free, window_s, base_s, max_s, per_code
        self.code_window_s = code_window_s
        with db.transaction() as conn:
            conn.execute(_TABLE)
            conn.execute("CREATE INDEX IF NOT EXISTS pickup_failures_by_code ON pickup_failures(code_mac)")

    def _recent(self) -> list[float]:
        since = self.clock() - self.window_s
        return [r["at"] for r in self.db.query("SELECT at FROM pickup_failures WHERE at > ? ORDER BY at", (since,))]

    def wait_s(self) -> float:
        """Seconds before this kiosk takes another code (0: now)."""
        recent = self._recent()
        over = len(recent) - self.free
        if over <= 0:
            return 0.0
        backoff = min(self.max_s, self.base_s * 2 ** (over - 1))
        return max(0.0, recent[-1] + backoff - self.clock())

    def code_blocked(self, code: str) -> bool:
        row = self.db.query_one(
            "SELECT COUNT(*) AS n FROM pickup_failures WHERE code_mac = ? AND at > ?",
            (self._mac(code), self.clock() - self.code_window_s),
        )
        return row is not None and int(row["n"]) >= self.per_code

    def failed(self, code: str, *, case_code: str | None) -> None:
        now = self.clock()
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO pickup_failures (at, code_mac) VALUES (?, ?)", (now, self._mac(code)))
            keep = max(self.window_s, self.code_window_s)
            conn.execute("DELETE FROM pickup_failures WHERE at < ?", (now - keep,))
            n = conn.execute("SELECT COUNT(*) FROM pickup_failures WHERE at > ?", (now - self.window_s,)).fetchone()[0]
            if self.audit is not None:
                self.audit.append("resident", "pickup.failed", case_code=case_code, detail={"kiosk_failures": n})
        if n > self.free:
            log.warning("pickup code: %d failures within %.0f min at this kiosk; backing off", n, self.window_s / 60)

    def succeeded(self, code: str) -> None:
        self.db.execute("DELETE FROM pickup_failures WHERE code_mac = ?", (self._mac(code),))

    def _mac(self, code: str) -> str:
        return self.mac(code.strip())
