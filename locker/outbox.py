"""Staff alerts through apprise, from an outbox table that survives restarts.

Each ``enqueue`` writes one row per configured target URL (so a message that reached DingTalk but
not e-mail is retried for e-mail only). ``deliver_due`` sends what is due and records the outcome:

1. claim: a short transaction sets ``leased_until`` (a second process or thread skips the row);
2. send through apprise, outside any transaction;
3. success → ``delivered_at`` set in a transaction right after; failure → ``attempts + 1`` and
   ``next_attempt_at = now + backoff(attempts)`` (exponential, capped), lease released.

Delivered rows are never sent again. The remaining at-least-once window is exactly the gap
between apprise's HTTP/SMTP request being accepted by the far end and the step-3 COMMIT reaching
the disk: a crash, power cut or kill in that gap leaves the row undelivered with a lease, and it
is sent again once the lease expires (``lease_s``, default 120 s). The same happens when the far
end accepts a request but its answer is lost or late (apprise's read time-out, 4 s by default):
apprise reports failure and the row is retried. Nothing else causes a repeat.

Target URLs carry tokens and passwords, so the table stores only a hash of the URL
(``target``); rows whose URL is no longer configured stay pending and are listed by ``pending()``.
ID numbers in titles and bodies are masked before they are stored.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import apprise

from devices.errors import ConfigError
from devices.privacy import mask_id_number, mask_uid
from locker.db import Database

log = logging.getLogger(__name__)

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")


# A badge or card UID written after "staff:", "badge", "card" or "UID" (the forms our own texts use).
_UID_AFTER_WORD = re.compile(r"(?i)(\b(?:staff:|badge\s+|card\s+|uid\s+))([0-9A-F]{8,20})\b")


def mask_ids_in_text(text: str) -> str:
    """Mask anything shaped like a mainland ID number (18 or old 15 digits), and badge/card UIDs.

    The last line of defence for alert bodies, which leave the kiosk: the callers mask already.
    """
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text)
    return _UID_AFTER_WORD.sub(lambda m: m.group(1) + mask_uid(m.group(2)), text)


def target_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def shown_url(url: str) -> str:
    """An alert URL as logs and messages may show it: the scheme only, the rest may hold a token or password."""
    return url.split("://", 1)[0] + "://…"


def apprise_target(url: str) -> apprise.Apprise:
    """One configured alert URL as an apprise sender; a URL apprise does not understand is a config error."""
    a = apprise.Apprise()
    if not a.add(url):
        raise ConfigError(f"alert URL {shown_url(url)} is not understood by apprise (check its format)")
    return a


def notify(sender: apprise.Apprise, title: str, body: str) -> str | None:
    """Send once through apprise; None when sent, else why not (a plugin bug is a failure, not a crash)."""
    try:
        ok = bool(sender.notify(title=title, body=body))
    except Exception as exc:  # a plugin bug must not kill the worker
        return f"{type(exc).__name__}: {exc}"
    return None if ok else "apprise reported the notification as failed"


def send_direct(urls: Sequence[str], title: str, body: str) -> list[str]:
    """Send an alert now to every URL, bypassing the outbox table; returns one error per failed URL.

    For when the database holding the outbox is itself what failed (the kiosk could not start):
    nothing is stored or retried, so callers log the errors. Ids are masked as for the outbox.
    """
    title, body = mask_ids_in_text(title), mask_ids_in_text(body)
    errors = []
    for url in urls:
        try:
            error = notify(apprise_target(url), title, body)
        except ConfigError as exc:
            error = exc.message
        if error is not None:
            errors.append(f"{shown_url(url)}: {error}")
    return errors


@dataclass(frozen=True)
class Backoff:
    base_s: float = 10.0
    factor: float = 2.0
    max_s: float = 3600.0

    def delay(self, failed_attempts: int) -> float:
        """Wait after the n-th failed attempt: base, base·f, base·f², … capped at max."""
        return min(self.max_s, self.base_s * self.factor ** max(0, failed_attempts - 1))


@dataclass(frozen=True)
class OutboxItem:
    id: int
    kind: str
    title: str
    case_code: str | None
    target: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    delivered_at: float | None


class Outbox:
    def __init__(
        self,
        db: Database,
        urls: Sequence[str],
        *,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        lease_s: float = 120.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.lease_s = lease_s
        self._targets: dict[str, apprise.Apprise] = {target_key(url): apprise_target(url) for url in urls}
        self._deliver_lock = threading.Lock()
        self.on_enqueue: Callable[[], None] | None = None

    def enqueue(self, kind: str, title: str, body: str, case_id: str | None = None) -> list[int]:
        """Store the alert for every target (``case_id`` is the case code). Returns the row ids."""
        if not self._targets:
            log.warning("alert %r not queued: no alert URLs are configured", kind)
            return []
        now = self.clock()
        title, body = mask_ids_in_text(title), mask_ids_in_text(body)
        ids = []
        with self.db.transaction() as conn:
            for key in self._targets:
                cur = conn.execute(
                    "INSERT INTO outbox (kind, title, body, case_code, target, created_at, next_attempt_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (kind, title, body, case_id, key, now, now),
                )
                ids.append(int(cur.lastrowid or 0))
        if self.on_enqueue:
            self.on_enqueue()
        return ids

    def deliver_due(self) -> int:
        """Send every due, undelivered message once; return how many were delivered."""
        with self._deliver_lock:
            now = self.clock()
            due = self.db.query(
                "SELECT id, title, body, target, attempts FROM outbox WHERE delivered_at IS NULL"
                " AND next_attempt_at <= ? AND (leased_until IS NULL OR leased_until <= ?) ORDER BY id",
                (now, now),
            )
            delivered = 0
            for row in due:
                sender = self._targets.get(row["target"])
                if sender is None:
                    continue  # its URL left the configuration; stays pending, visible in pending()
                if not self._claim(row["id"]):
                    continue
                error = notify(sender, row["title"], row["body"])
                ok = error is None
                if ok:
                    self._mark_delivered(row["id"])
                    delivered += 1
                else:
                    self._mark_failed(row["id"], row["attempts"] + 1, error or "failed")
            return delivered

    def pending(self) -> list[OutboxItem]:
        return [self._item(r) for r in self.db.query("SELECT * FROM outbox WHERE delivered_at IS NULL ORDER BY id")]

    def items(self) -> list[OutboxItem]:
        return [self._item(r) for r in self.db.query("SELECT * FROM outbox ORDER BY id")]

    def next_due_at(self) -> float | None:
        row = self.db.query_one("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE delivered_at IS NULL")
        return None if row is None or row["t"] is None else float(row["t"])

    # -- internals -------------------------------------------------------------------------------
    def _claim(self, row_id: int) -> bool:
        now = self.clock()
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE outbox SET leased_until = ? WHERE id = ? AND delivered_at IS NULL"
                " AND (leased_until IS NULL OR leased_until <= ?)",
                (now + self.lease_s, row_id, now),
            )
            return cur.rowcount == 1

    def _mark_delivered(self, row_id: int) -> None:
        now = self.clock()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, leased_until = NULL,"
                " last_error = NULL WHERE id = ?",
                (now, row_id),
            )

    def _mark_failed(self, row_id: int, attempts: int, error: str) -> None:
        now = self.clock()
        wait = self.backoff.delay(attempts)
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, leased_until = NULL, last_error = ? WHERE id = ?",
                (attempts, now + wait, error, row_id),
            )
        log.warning("alert %d failed (attempt %d): %s; next try in %.0f s", row_id, attempts, error, wait)

    @staticmethod
    def _item(r: sqlite3.Row) -> OutboxItem:
        return OutboxItem(
            r["id"],
            r["kind"],
            r["title"],
            r["case_code"],
            r["target"],
            r["attempts"],
            r["next_attempt_at"],
            r["last_error"],
            r["delivered_at"],
        )


class OutboxWorker:
    """Background thread calling ``deliver_due`` every ``interval_s`` and right after an enqueue."""

    def __init__(self, outbox: Outbox, *, interval_s: float = 5.0) -> None:
        self.outbox = outbox
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self.outbox.on_enqueue = self.wake
        self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None
        if self.outbox.on_enqueue == self.wake:
            self.outbox.on_enqueue = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.outbox.deliver_due()
            except Exception:
                log.exception("outbox delivery round failed; retrying in %.0f s", self.interval_s)
            self._wake.wait(self.interval_s)
            self._wake.clear()
